#!/usr/bin/env python3
"""Grade the same stages N times and say how steady the grader is: verdicts, speed scores, times.

    python3 grader/tests/repeat_grade.py [--swa build/instructor/swa] [--runs 20] [--variant solution]
                                         [--out repeat-grades] [--resume] [STAGE ...]

Each run is `swa grade --variant VARIANT --out OUT/run-K` with a new seed. With --resume, a run whose
OUT/run-K/grade.json already exists is read, not repeated: 20 grades can be taken over two device calls
(the second on the still-warm machine), or after a run was cut off by a time limit. Printed at the end: per stage,
the scores seen and their spread, every verdict (status and the status of each check) that changed from
one run to another, and per timed shape the speedup's range and the speed score's spread; then the timing
noise under the scores (per stage and shape: the stage's and the baseline's time per launch over the runs,
the runs more than 5% from the median, and the share of a batch that the request and reply take); then the
time each grade took. Exit status 0 when no verdict changed, every stage's speed score stayed within 5% (of
its maximum) and every grade took under 60 s; 1 otherwise; 2 when a grade could not run at all.
The issue's check: 20 grades of the solutions, 500/500 each time, speed scores within 5%.
"""
import argparse
import json
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def verdicts(stage):
    return (stage.get("status"),) + tuple((c["name"], c["status"]) for c in stage.get("checks", []))


def median(values):
    """The middle value, None left out; None when there is none."""
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else None


def shape_seconds(stage, k):
    """The wall time of the speed check's k-th shape (grade.json's measurements[k].seconds), or None."""
    speed = next((c for c in stage.get("checks", []) if c["name"] == "speed"), {})
    measurements = speed.get("measurements", [])
    return measurements[k].get("seconds") if k < len(measurements) else None


def time_shares(reports, names):
    """Each stage's median wall time, split into the runner's start and its checks (grade.json's seconds)."""
    parts = []
    outside = median([r.get("execution_time_s", 0) - sum(s.get("seconds", 0) for s in r["stages"]) for r in reports])
    if outside is not None:
        phases = {p: median([r.get("judge_seconds", {}).get(p) for r in reports])
                  for p in ("setup", "runner_check", "clean_baselines")}
        known = [f"{p} {v:.1f}" for p, v in phases.items() if v is not None]
        parts.append(f"outside the stages {outside:.1f}" + (f" ({', '.join(known)})" if known else ""))
    for name in names:
        entries = [next(s for s in r["stages"] if s["stage"] == name) for r in reports]
        total = median([e.get("seconds") for e in entries])
        if total is None:
            continue
        pieces = [f"start {median([e.get('start_seconds') for e in entries]) or 0:.1f}"]
        for check in ("correctness", "window", "memory", "speed"):
            value = median([next((c.get("seconds") for c in e.get("checks", []) if c["name"] == check), None)
                            for e in entries])
            if value is not None:
                pieces.append(f"{check} {value:.1f}")
        shapes = [median([shape_seconds(e, k) for e in entries]) for k in range(4)]
        if any(v is not None for v in shapes):
            pieces.append("speed by shape " + "/".join("-" if v is None else f"{v:.1f}" for v in shapes))
        parts.append(f"{name} {total:.1f} ({', '.join(pieces)})")
    return "; ".join(parts)


def timing_noise(reports, names):
    """Lines of a table: per stage and timed shape, how the judge's clock varied over the runs."""
    lines = [f"{'stage':18s} {'B*H,N':>8s}  {'stage ms':>9s} {'range':>15s} {'>5% off':>8s}  {'baseline ms':>11s} "
             f"{'range':>6s}  {'overhead share median / max':>27s}"]
    for name in names:
        speed = [next((c for c in next(s for s in r["stages"] if s["stage"] == name).get("checks", [])
                       if c["name"] == "speed"), None) for r in reports]
        if not all(speed):
            continue
        for k, shape in enumerate(speed[0].get("measurements", [])):
            rows = [c["measurements"][k] for c in speed if k < len(c["measurements"])]
            rows = [m for m in rows if "median_ms" in m]
            if not rows:
                continue
            ms = [m["median_ms"] for m in rows]
            base = [m.get("baseline_alternated_ms", 0.0) for m in rows]
            share = [m.get("request_overhead_share", 0.0) for m in rows]
            mid, base_mid = median(ms), median(base)
            off = sum(abs(x - mid) > 0.05 * mid for x in ms)
            spread = f"{100 * (min(ms) / mid - 1):+.1f}..{100 * (max(ms) / mid - 1):+.1f}%"
            base_spread = f"{100 * (max(base) - min(base)) / base_mid:.1f}%" if base_mid else "-"
            lines.append(f"{name:18s} {shape['B'] * shape['H']:>3d},{shape['N']:<4d}  {mid:9.4f} {spread:>15s} "
                         f"{off:>4d}/{len(ms):<3d}  {base_mid:11.4f} {base_spread:>6s}  "
                         f"{100 * median(share):>17.2f}% / {100 * max(share):.2f}%")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stages", nargs="*", help="stages to grade (default: all of the variant)")
    parser.add_argument("--swa", default=str(ROOT / "build" / "instructor" / "swa"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--variant", default="solution")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("repeat-grades"))
    parser.add_argument("--max-seconds", type=float, default=60.0, help="the longest a grade may take")
    parser.add_argument("--max-spread", type=float, default=0.05, help="largest speed-score spread, of its maximum")
    parser.add_argument("--resume", action="store_true", help="read the runs already in --out instead of repeating them")
    args = parser.parse_args()

    reports, seconds = [], []
    for k in range(args.runs):
        out = args.out / f"run-{k + 1:02d}"
        grade = out / "grade.json"
        if args.resume and grade.exists():
            reports.append(json.loads(grade.read_text()))
            seconds.append(reports[-1].get("execution_time_s", 0.0))
            print(f"run {k + 1:2d}: {reports[-1]['score']:.1f} / {reports[-1]['max_score']:g} in {seconds[-1]:.1f} s "
                  "(read, from an earlier call)", flush=True)
            continue
        grade.unlink(missing_ok=True)
        start = time.monotonic()
        done = subprocess.run([args.swa, "grade", "--variant", args.variant, "--out", str(out), *args.stages],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        seconds.append(time.monotonic() - start)
        if done.returncode not in (0, 1) or not grade.exists():
            print(done.stdout[-3000:])
            print(f"repeat_grade: run {k + 1} ended with exit status {done.returncode}", file=sys.stderr)
            return 2
        reports.append(json.loads(grade.read_text()))
        total = reports[-1]["score"], reports[-1]["max_score"]
        print(f"run {k + 1:2d}: {total[0]:.1f} / {total[1]:g} in {seconds[-1]:.1f} s (exit {done.returncode})",
              flush=True)

    ok = True
    names = [s["stage"] for s in reports[0]["stages"]]
    print("\nstage                   score min..max     verdict changes   speed score spread   slowest shape speedup range")
    for name in names:
        entries = [next(s for s in r["stages"] if s["stage"] == name) for r in reports]
        scores = [e["score"] for e in entries]
        changed = len({verdicts(e) for e in entries}) > 1
        speed = [next((c for c in e.get("checks", []) if c["name"] == "speed"), None) for e in entries]
        spread_text, range_text = "-", "-"
        if all(speed) and speed[0]["max_score"] > 0:
            values = [c["score"] for c in speed]
            spread = (max(values) - min(values)) / speed[0]["max_score"]
            spread_text = f"{100 * spread:.1f}%"
            ok = ok and spread <= args.max_spread
            worst = None
            for m in range(len(speed[0]["measurements"])):
                ups = [c["measurements"][m].get("speedup") for c in speed if m < len(c["measurements"])]
                ups = [u for u in ups if u is not None]
                if ups and (worst is None or (max(ups) - min(ups)) / min(ups) > worst[0]):
                    shape = speed[0]["measurements"][m]
                    worst = ((max(ups) - min(ups)) / min(ups), f"N={shape['N']} B*H={shape['B'] * shape['H']}",
                             min(ups), max(ups))
            if worst:
                range_text = f"{worst[1]}: {worst[2]:.2f}x..{worst[3]:.2f}x ({100 * worst[0]:.1f}%)"
        ok = ok and not changed
        print(f"{name:22s}  {min(scores):6.1f}..{max(scores):<6.1f}    {'YES' if changed else 'none':15s}   "
              f"{spread_text:18s}   {range_text}")
    print("\ntiming noise (the judge's clock, per launch, over the runs; the scores above are what counts):")
    print("\n".join(timing_noise(reports, names)))
    slowest = max(seconds)
    ok = ok and slowest < args.max_seconds
    print(f"\ngrade time: {min(seconds):.1f} to {slowest:.1f} s (median {sorted(seconds)[len(seconds) // 2]:.1f} s), "
          f"limit {args.max_seconds:g} s")
    print("where the time goes (median seconds of the runs): " + time_shares(reports, names))
    iso = reports[0].get("isolation", {})
    print(f"runners: sandbox {iso.get('sandbox')}, sharing {iso.get('sharing')}, GPU memory by {iso.get('gpu_memory')}")
    print("STEADY" if ok else "NOT STEADY: see the table")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
