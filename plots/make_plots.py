#!/usr/bin/env python3
"""make_plots.py: every figure of the course kit, and the README's results block, from saved results.

    python3 plots/make_plots.py        # plots/results/*.json -> plots/figures/*.png, and the README's block
    python3 plots/make_plots.py --results grade-results/grade.json --out /tmp/figures --no-readme

The figures are the package plots/swa_plots/, one module each; its cli.py says which figure reads what,
and how to add one. `--help` lists the options.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from swa_plots.cli import main  # noqa: E402  (after the path is set)

if __name__ == "__main__":
    sys.exit(main())
