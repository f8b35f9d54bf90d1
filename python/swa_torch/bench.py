"""python -m swa_torch.bench: the kit's stages beside FlexAttention and SDPA, each checked, then timed.

    PYTHONPATH=python python3 -m swa_torch.bench --variant solution --stages 04,05 --json torch-bench.json

For each shape it makes fp16 inputs, computes the fp64 reference (masked softmax, reference.py), runs
every method once and compares its output with the reference, and times only the methods that pass
(timing.py: L2 flushed, launch hidden behind a spin kernel, CUDA events, median). Methods:
  stage NN       the kit's stage (swa_torch.attention), fp32 O, on the pattern
  flex           FlexAttention, torch.compile'd, block mask built once; compile time reported apart
  sdpa_flash     SDPA full attention (every key), flash back end: what attention costs without a window
  sdpa_cudnn     the same, cuDNN back end
  sdpa_band      SDPA with the pattern as a boolean mask [N, N] (PyTorch picks the back end)
Useful TFLOP/s counts 4*D flops for each (i, j) pair the pattern allows (exactly, problem.h's count), for
every method: full attention's work outside the pattern is not useful. The table comes last; --json
writes every measurement (schema swa-torch-bench/1, python/README.md). Exit status 1 when any output
was wrong or a stage failed.
"""

import argparse
import datetime
import functools
import json
import math
import os
import pathlib
import subprocess
import sys
import traceback

SCHEMA = "swa-torch-bench/1"
# The exercise's shapes (one head: latency) and shapes that fill an H200 (throughput).
EXERCISE_SHAPES = [(1, 1, 512, 64), (1, 1, 1024, 64), (1, 1, 2048, 64)]
FILL_SHAPES = [(4, 16, 2048, 64), (4, 16, 4096, 64), (1, 16, 16384, 64), (2, 16, 8192, 128)]
QUICK_SHAPES = [(1, 1, 2048, 64), (4, 16, 4096, 64)]
LIBRARY_METHODS = ("flex", "sdpa_flash", "sdpa_cudnn", "sdpa_band")
LABELS = {"flex": "FlexAttention", "sdpa_flash": "SDPA full (flash)", "sdpa_cudnn": "SDPA full (cuDNN)",
          "sdpa_band": "SDPA + bool mask"}
# PyTorch's figures on an H200 (2026-12-02, sliding:128, measured by timing.py's method), in ms:
# a run on that GPU should land near them. Printed beside the measurements, and only for sliding:128.
ANCHOR_PATTERN = "sliding:128"
ANCHORS_MS = {
    (1, 1, 512, 64): {"sdpa_flash": 0.0135, "sdpa_cudnn": 0.0115, "flex": 0.0153, "sdpa_band": 0.0249},
    (1, 1, 2048, 64): {"sdpa_flash": 0.0162, "sdpa_cudnn": 0.0247, "flex": 0.0156, "sdpa_band": 0.0583},
    (4, 16, 2048, 64): {"sdpa_flash": 0.247, "sdpa_cudnn": 0.161, "flex": 0.0672, "sdpa_band": 0.298},
    (4, 16, 4096, 64): {"sdpa_flash": 0.921, "sdpa_cudnn": 0.580, "flex": 0.125, "sdpa_band": 1.135},
    (1, 16, 16384, 64): {"sdpa_flash": 3.56, "sdpa_cudnn": 2.36, "flex": 0.124, "sdpa_band": 5.10},
    (2, 16, 8192, 128): {"sdpa_flash": 3.15, "sdpa_cudnn": 1.77, "flex": 0.222, "sdpa_band": 3.44},
}
FAILED = ("check_failed", "error")  # statuses that make the run fail


def useful_tflops(B, H, D, pairs_per_head, ms):
    return 4.0 * D * pairs_per_head * B * H / (ms * 1e-3) / 1e12


def make_result(shape, group, pattern, pairs_per_head, method, name, *, computes="pattern", variant=None,
                status="ok", reason=None, check=None, timing=None, compile_s=None, anchor_ms=None,
                computed_pairs_per_head=None):
    """One measurement of the JSON (swa_torch/bench.schema.json describes every field). pairs_per_head:
    the pattern's, the useful work of every method; computed_pairs_per_head: full attention's N * N."""
    B, H, N, D = shape
    result = {"B": B, "H": H, "N": N, "D": D, "group": group, "pattern": pattern, "method": method, "name": name,
              "computes": computes, "pairs_per_head": pairs_per_head, "status": status, "anchor_ms": anchor_ms}
    if computed_pairs_per_head is not None:
        result["computed_pairs_per_head"] = computed_pairs_per_head
    if variant is not None:
        result["variant"] = variant
    if reason is not None:
        result["reason"] = reason
    if check is not None:
        result["check"] = {key: _finite_or_none(check[key]) for key in ("passed", "max_error", "worst_ratio", "failed")}
    if timing is not None:
        result.update({key: timing[key] for key in ("median_ms", "min_ms", "max_ms", "runs")})
        result["useful_tflops"] = useful_tflops(B, H, D, pairs_per_head, timing["median_ms"])
    if compile_s is not None:
        result["compile_s"] = compile_s
    return result


def _finite_or_none(x):
    """JSON has no infinity or NaN: an error that is not finite (no finite output at all) is written null."""
    return None if isinstance(x, float) and not math.isfinite(x) else x


def _number(x, digits=4):
    if x is None:
        return "-"
    return f"{x:.{digits}g}" if x < 1000 else f"{x:.0f}"


def format_table(document):
    """The run as a table: a row per shape and method, the anchors and the ratio to FlexAttention beside."""
    lines = [f"swa_torch bench: {document['gpu']}, torch {document['torch']}, pattern {document['pattern']}, "
             f"median of {document['timing']['runs']} runs, L2 flushed, launch hidden"]
    header = f"{'B,H,N,D':<14} {'method':<20} {'ms':>9} {'TFLOP/s':>8} {'anchor ms':>10} {'x Flex':>7}  check"
    lines += [header, "-" * len(header)]
    shape_of = lambda r: (r["B"], r["H"], r["N"], r["D"])  # noqa: E731
    flex_ms = {shape_of(r): r["median_ms"] for r in document["results"] if r["method"] == "flex" and "median_ms" in r}
    previous = None
    for r in document["results"]:
        shape = shape_of(r)
        label = ",".join(map(str, shape)) if shape != previous else ""
        previous = shape
        if "median_ms" in r:
            ratio = r["median_ms"] / flex_ms[shape] if shape in flex_ms else None
            check = f"ok {r['check']['max_error']:.1e}" if r.get("check", {}).get("max_error") is not None else "ok"
            lines.append(f"{label:<14} {r['name']:<20} {_number(r['median_ms']):>9} {r['useful_tflops']:>8.2f} "
                         f"{_number(r['anchor_ms']):>10} {_number(ratio, 3):>7}  {check}")
        else:
            reason = r.get("reason", "").split("\n")[0]
            lines.append(f"{label:<14} {r['name']:<20} {'-':>9} {'-':>8} {_number(r['anchor_ms']):>10} {'-':>7}  "
                         f"{r['status'].upper()}: {reason[:110]}")
    compiles = [f"{r['N']}x{r['D']} (B={r['B']}, H={r['H']}) {r['compile_s']:.1f} s" for r in document["results"]
                if r.get("compile_s") is not None]
    if compiles:
        lines.append("FlexAttention compile (first call of each shape, not in the times): " + "; ".join(compiles))
    if document["pattern"] == ANCHOR_PATTERN:
        lines.append("anchor: PyTorch on an H200, 2026-12-02, same method; x Flex: time / FlexAttention's time")
    failed = [r for r in document["results"] if r["status"] in FAILED]
    lines.append(f"{len(failed)} failed" + (": " + ", ".join(f"{r['name']} at {','.join(map(str, shape_of(r)))}"
                                                               for r in failed) if failed else ""))
    return "\n".join(lines)


def _commit():
    """The commit measured: $SWA_COMMIT where the caller knows it (tools/gpu-check.sh sets it: a copy of the
    working tree on another machine may carry another HEAD), else git's HEAD."""
    if os.environ.get("SWA_COMMIT"):
        return os.environ["SWA_COMMIT"]
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=pathlib.Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def parse_shapes(text):
    shapes = []
    for item in text.split():
        parts = item.split(",")
        if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
            raise argparse.ArgumentTypeError(f"shape {item!r} must be B,H,N,D (four positive integers)")
        shapes.append(tuple(int(p) for p in parts))
    return shapes


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m swa_torch.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--stages", default="", help="comma-separated stages (04,05 or names); default: every built one")
    p.add_argument("--variant", default="student", help="student (your stages/) or solution (default: student)")
    p.add_argument("--pattern", default="sliding:128", help="the kit's pattern text (default: sliding:128)")
    p.add_argument("--methods", default=",".join(LIBRARY_METHODS),
                   help=f"PyTorch methods to run beside the stages, comma-separated, or 'none' "
                        f"(default: {','.join(LIBRARY_METHODS)})")
    p.add_argument("--shapes", type=parse_shapes, default=None,
                   help="shapes 'B,H,N,D B,H,N,D ...' instead of the standard ones")
    p.add_argument("--quick", action="store_true", help=f"only {QUICK_SHAPES} (less torch.compile time)")
    p.add_argument("--runs", type=int, default=50, help="timed runs per method and shape (median; default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed runs before them (default 5)")
    p.add_argument("--json", type=pathlib.Path, help="write every measurement here")
    p.add_argument("--build-dir", help="the build whose stages to load (default: $SWA_BUILD_DIR or newest build/*)")
    p.add_argument("--device", default="cuda", help="the GPU (default: cuda, the current one)")
    p.add_argument("--seed", type=int, default=1, help="seed of the random inputs")
    args = p.parse_args(argv)
    methods = [] if args.methods == "none" else [m for m in args.methods.split(",") if m]
    unknown = [m for m in methods if m not in LIBRARY_METHODS]
    if unknown:
        p.error(f"--methods: unknown {unknown}; choose from {', '.join(LIBRARY_METHODS)} or 'none'")
    args.methods = methods
    if args.runs < 30:
        print(f"note: --runs {args.runs} is fewer than the 30 the method asks for", file=sys.stderr)
    return args


def shapes_of(args):
    if args.shapes:
        return [(s, "exercise" if s[0] * s[1] == 1 else "fill") for s in args.shapes]
    if args.quick:
        return [(s, "exercise" if s[0] * s[1] == 1 else "fill") for s in QUICK_SHAPES]
    return [(s, "exercise") for s in EXERCISE_SHAPES] + [(s, "fill") for s in FILL_SHAPES]


def _import_torch(tool):
    try:
        import torch
    except ImportError as e:
        raise SystemExit(f"swa_torch.{tool} needs PyTorch with CUDA: import torch failed ({e})") from e
    return torch


def run(args):
    """Runs the bench; returns the document (the JSON)."""
    torch = _import_torch("bench")

    from ._native import native
    from .timing import GpuTimer

    if not torch.cuda.is_available():
        raise SystemExit("swa_torch.bench needs a GPU: torch.cuda.is_available() is False")
    device = torch.device(args.device)
    if device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    torch.cuda.set_device(device)
    lib = native(args.build_dir)
    names = [s for s in args.stages.split(",") if s] or lib.stage_names(args.variant)
    stages = [lib.stage(s, args.variant) for s in names]
    shapes = shapes_of(args)
    try:
        patterns = {N: lib.pattern(args.pattern, N) for N in sorted({s[2] for s, _ in shapes})}
    except ValueError as e:
        raise SystemExit(f"--pattern: {e}") from e
    props = torch.cuda.get_device_properties(device)
    timer = GpuTimer(device, runs=args.runs, warmup=args.warmup)
    document = {
        "schema": SCHEMA,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": _commit(),
        "gpu": f"{props.name} (sm_{props.major}{props.minor}, {props.multi_processor_count} SMs)",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "pattern": patterns[max(patterns)].canonical,
        "variant": args.variant,
        "timing": {"statistic": "median", "runs": args.runs, "warmup": args.warmup,
                   "l2_flush_bytes": timer.flush.numel(), "launch_hidden_by": "torch.cuda._sleep"},
        "results": [],
    }
    generator = torch.Generator(device=device).manual_seed(args.seed)
    for shape, group in shapes:
        print(f"[bench] {','.join(map(str, shape))}", file=sys.stderr, flush=True)
        q, k, v = ((torch.rand(shape, generator=generator, device=device) * 2 - 1).half() for _ in range(3))
        document["results"] += bench_shape(args, lib, stages, timer, patterns[shape[2]], document["pattern"], q, k, v,
                                           group, 10 * props.major + props.minor)
        del q, k, v
        torch.cuda.empty_cache()
    return document


def bench_shape(args, lib, stages, timer, pattern, canonical, q, k, v, group, cc):
    """Every method at the shape of q: prepared, run once and checked against the fp64 reference, then
    timed if right. Returns their results."""
    import torch

    from . import libraries, reference
    from .errors import UnsupportedDeviceError, UnsupportedError
    from .op import attention

    shape = B, H, N, D = tuple(q.shape)
    scale = 1.0 / math.sqrt(D)
    anchors = ANCHORS_MS.get(shape, {}) if canonical == ANCHOR_PATTERN else {}
    common = dict(shape=shape, group=group, pattern=canonical, pairs_per_head=pattern.pairs)
    results = []
    candidates = []  # (method, name, variant, call, the Flex object or None)
    for stage in stages:
        try:
            lib.check(stage, pattern, B, H, N, D, scale, cc)
        except (UnsupportedError, UnsupportedDeviceError, ValueError) as e:
            results.append(make_result(**common, method="stage", name=stage.name, variant=stage.variant,
                                       status="unsupported", reason=str(e)))
            continue
        out = torch.empty(shape, dtype=torch.float32, device=q.device)
        out.view(torch.int32).fill_(reference.POISON_BITS)  # what the stage does not write stays NaN
        call = functools.partial(attention, q, k, v, pattern=args.pattern, scale=scale, stage=stage.path,
                                 variant=stage.variant, out=out, build_dir=args.build_dir)
        candidates.append(("stage", stage.name, stage.variant, call, None))
    for method in args.methods:
        try:
            if method == "flex":
                library = libraries.Flex(pattern, B, H, N, D, q.device, scale)
            elif method == "sdpa_band":
                library = libraries.sdpa_masked(reference.pattern_mask(pattern, q.device), scale)
            else:
                library = libraries.sdpa_full(method.split("_")[1], scale)
        except Exception as e:  # noqa: BLE001 - a library that cannot run here is reported, not fatal
            traceback.print_exc()
            results.append(make_result(**common, method=method, name=LABELS[method], status="unavailable",
                                       reason=f"{type(e).__name__}: {e}", anchor_ms=anchors.get(method)))
            continue
        candidates.append((method, LABELS[method], None, functools.partial(library, q, k, v),
                           library if method == "flex" else None))

    expected = {}  # "pattern" or "full": the fp64 reference, computed when first needed
    for method, name, variant, call, flex in candidates:
        computes = "full" if method in ("sdpa_flash", "sdpa_cudnn") else "pattern"
        about = dict(common, method=method, name=name, variant=variant, computes=computes,
                     anchor_ms=anchors.get(method), computed_pairs_per_head=N * N if computes == "full" else None)
        print(f"[bench]   {name}", file=sys.stderr, flush=True)
        try:
            got = call()  # FlexAttention's first call of a shape compiles it
            torch.cuda.synchronize(q.device)
        except Exception as e:  # noqa: BLE001 - reported with the method's name; a stage's is a failure
            traceback.print_exc()
            results.append(make_result(**about, status="error" if method == "stage" else "unavailable",
                                       reason=f"{type(e).__name__}: {e}"))
            continue
        compile_s = flex.compile_s if flex is not None else None
        if computes not in expected:
            expected[computes] = reference.reference(q, k, v, pattern if computes == "pattern" else None, scale)
        check = reference.compare(got, expected[computes], v)
        del got
        if not check["passed"]:
            results.append(make_result(**about, status="check_failed", check=check, reason=reference.describe(check),
                                       compile_s=compile_s))
            continue
        results.append(make_result(**about, check=check, timing=timer.time(call), compile_s=compile_s))
    return results


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    document = run(args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=1) + "\n")
        print(f"[bench] wrote {args.json}", file=sys.stderr)
    print(format_table(document))
    return 1 if any(r["status"] in FAILED for r in document["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
