"""python -m swa_torch.example: a small transformer with the kit's stage as its attention, beside the
same network with FlexAttention: their outputs compared, their forward passes timed.

    PYTHONPATH=python python3 -m swa_torch.example --stage 04 --variant solution

Prints the largest difference of the outputs relative to their size, the two against each other and
each against the same network with fp64 attention (reference.py), and the median GPU time of one
forward pass of each (timing.py). Exit status 1 when the stage's differs by more than --tolerance.
"""

import argparse
import math
import sys


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m swa_torch.example", description=__doc__.split("\n\n")[0])
    p.add_argument("--stage", default="04", help="the stage (default: 04)")
    p.add_argument("--variant", default="student", help="student or solution (default: student)")
    p.add_argument("--pattern", default="sliding:128", help="the kit's pattern text (default: sliding:128)")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seq", type=int, default=4096, help="sequence length N (default: 4096)")
    p.add_argument("--dim", type=int, default=512, help="model width (default: 512)")
    p.add_argument("--heads", type=int, default=8, help="heads; D = dim / heads (default: 8)")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--runs", type=int, default=30, help="timed forward passes (median; default 30)")
    p.add_argument("--tolerance", type=float, default=2e-2,
                   help="largest max|difference| / max|output| that passes (default 2e-2: fp16 activations)")
    p.add_argument("--build-dir", help="the build whose stages to load")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from .bench import _import_torch

    torch = _import_torch("example")

    from . import libraries, reference
    from ._native import native
    from .model import TinyTransformer
    from .op import attention
    from .timing import GpuTimer

    if not torch.cuda.is_available():
        raise SystemExit("swa_torch.example needs a GPU: torch.cuda.is_available() is False")
    device = torch.device("cuda", torch.cuda.current_device())
    B, N, H = args.batch, args.seq, args.heads
    D = args.dim // H
    scale = 1.0 / math.sqrt(D)
    model = TinyTransformer(args.dim, H, args.layers).to(device).half().eval()
    generator = torch.Generator(device).manual_seed(1)
    x = torch.randn(B, N, args.dim, device=device, dtype=torch.half, generator=generator)
    pattern = native(args.build_dir).pattern(args.pattern, N)
    flex = libraries.Flex(pattern, B, H, N, D, device, scale)

    def stage_attention(q, k, v):
        return attention(q, k, v, pattern=args.pattern, scale=scale, stage=args.stage, variant=args.variant,
                         build_dir=args.build_dir)

    def reference_attention(q, k, v):  # fp64 masked softmax: the arbiter when the two disagree
        return reference.reference(q, k, v, pattern, scale)

    with torch.no_grad():
        outputs = {"flex": model(x, flex), "stage": model(x, stage_attention),  # the first compiles FlexAttention
                   "reference": model(x, reference_attention)}
        torch.cuda.synchronize(device)
        size = float(outputs["reference"].float().abs().max())
        differences = {name: float((outputs[name].float() - outputs["reference"].float()).abs().max()) / size
                       for name in ("stage", "flex")}
        differences["stage vs flex"] = float((outputs["stage"].float() - outputs["flex"].float()).abs().max()) / size
        finite = bool(torch.isfinite(outputs["stage"]).all())
        timer = GpuTimer(device, runs=args.runs)
        stage_ms = timer.time(lambda: model(x, stage_attention))["median_ms"]
        flex_ms = timer.time(lambda: model(x, flex))["median_ms"]

    name = native(args.build_dir).stage(args.stage, args.variant).name
    ok = finite and differences["stage"] <= args.tolerance and differences["stage vs flex"] <= args.tolerance
    print(f"TinyTransformer: {args.layers} layers, dim {args.dim}, {H} heads of D = {D}, x [{B}, {N}, {args.dim}] "
          f"fp16, pattern {pattern.canonical}; FlexAttention compiled in {flex.compile_s:.1f} s (not timed)")
    print(f"  output, max |difference| / max |output|: {name} vs FlexAttention {differences['stage vs flex']:.2e}; "
          f"against the network with fp64 attention: {name} {differences['stage']:.2e}, "
          f"FlexAttention {differences['flex']:.2e}")
    verdict = "ok" if ok else "FAILED" + ("" if finite else f": {name} gave NaN or inf")
    print(f"  {verdict} (tolerance {args.tolerance:g})")
    print(f"  forward pass, median GPU time: {name} {stage_ms:.4g} ms, FlexAttention {flex_ms:.4g} ms "
          f"({stage_ms / flex_ms:.2f}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
