"""Run one stage once on one shape, for a profiler: only the launches you ask for, nothing else timed.

    ncu --clock-control none -k regex:attention --launch-skip 1 --section SpeedOfLight \\
        python3 -m swa_torch.profile --stage 06 --variant solution --shape 4,16,4096,64

runs the stage twice (a warm-up, which --launch-skip 1 skips, then the launch to profile) on random inputs;
`--runs` changes how many. Nothing else of the kit launches a kernel with "attention" in its name.
"""

import argparse

from .op import attention


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", required=True, help="stage name or number, e.g. 06")
    parser.add_argument("--variant", default="student", choices=["student", "solution"])
    parser.add_argument("--shape", default="4,16,4096,64", help="B,H,N,D (default: %(default)s)")
    parser.add_argument("--pattern", default="sliding:128", help="pattern text form (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=2, help="launches, the first a warm-up (default: %(default)s)")
    parser.add_argument("--build-dir", default=None, help="the build whose stages to use")
    args = parser.parse_args(argv)
    try:
        B, H, N, D = (int(x) for x in args.shape.split(","))
    except ValueError:
        parser.error(f"--shape {args.shape!r}: expected four integers B,H,N,D")
    if args.runs < 1:
        parser.error("--runs must be >= 1")

    import torch

    q, k, v = (torch.randn(B, H, N, D, device="cuda", dtype=torch.half) for _ in range(3))
    with torch.inference_mode():
        for _ in range(args.runs):
            attention(q, k, v, pattern=args.pattern, stage=args.stage, variant=args.variant, build_dir=args.build_dir)
    torch.cuda.synchronize()
    print(f"ran {args.stage} ({args.variant}) {args.runs} times at B,H,N,D = {B},{H},{N},{D}, {args.pattern}")


if __name__ == "__main__":
    main()
