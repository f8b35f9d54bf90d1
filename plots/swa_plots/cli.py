"""make_plots.py: every figure of the course kit, and the README's results block, from saved results.

    python3 plots/make_plots.py        # plots/results/*.json -> plots/figures/*.png, and the README's block
    python3 plots/make_plots.py --results grade-results/grade.json --out /tmp/figures --no-readme

Each figure is a module of plots/swa_plots/ (fig_*.py) listed in FIGURES below, in the README's order:
  speedup.png        speedup over full attention against N, per stage                 (swa-bench/1)
  time_vs_n.png      time against N, log-log: full attention as N², the window as N·W  (swa-bench/1)
  stage_ladder.png   useful TFLOP/s of each stage at a shape that fills the GPU        (swa-bench/1)
  roofline.png       each stage's useful TFLOP/s against its arithmetic intensity, under the GPU's
                     roofs                                                             (swa-bench/1)
  patterns.png       the attention patterns and the key tiles a query tile visits      (a built `swa`)
  pytorch.png        your stage against FlexAttention and SDPA                         (swa-torch-bench/1)
  NAME_errors.png    one grading run's errors, one per grade file NAME.json            (swa-grade/1)
A figure whose input is absent is skipped with the reason. Every input file is checked against
plots/schemas/*.schema.json first: a file that does not match stops the command, before anything is
written, with its name and the field at fault.

A new figure is one module: FILE (its file name), CAPTION (the README's alt text), needs(inputs) (None
when it can be drawn, else why not) and draw(inputs, path) (returns the path, or None after saying why it
drew nothing), added to FIGURES. `inputs` (Inputs below) holds the checked results by kind.
"""
import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import fig_grade, fig_ladder, fig_patterns, fig_roofline, fig_speedup, fig_time, fig_torch
from .bench import Bench, merge_bench_files
from .common import (DEFAULT_FIGURES, DEFAULT_README, DEFAULT_RESULTS, ResultError, display_path, say,
                     use_house_style)
from .load import BENCH_SCHEMA, GRADE_SCHEMA, TORCH_SCHEMA, read_result_files
from .readme import readme_block, rewrite_readme_block

FIGURES = [fig_speedup, fig_time, fig_ladder, fig_roofline, fig_patterns, fig_torch]


@dataclass
class Inputs:
    """What the figures are drawn from, every file already checked."""
    bench: Bench | None  # the swa-bench/1 files, merged
    torch: list = field(default_factory=list)  # swa-torch-bench/1 files (load.ResultFile)
    grades: list = field(default_factory=list)  # swa-grade/1 files
    swa: Path | None = None  # the `swa` program for the pattern figure


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="make_plots.py", description=__doc__.split("\n\n")[0],
        epilog="Defaults: --results plots/results --out plots/figures --readme README.md (of the repository).")
    parser.add_argument("--results", nargs="+", default=[DEFAULT_RESULTS], metavar="DIR_OR_FILE",
                        help="result JSON files, or folders whose *.json files to read")
    parser.add_argument("--out", type=Path, default=DEFAULT_FIGURES, metavar="DIR",
                        help="folder to write the figures to")
    parser.add_argument("--readme", type=Path, default=DEFAULT_README, metavar="PATH",
                        help="README whose results block to rewrite (added at its end if missing)")
    parser.add_argument("--no-readme", action="store_true", help="leave every README alone (wins over --readme)")
    parser.add_argument("--swa", type=Path, metavar="PATH",
                        help="the `swa` program for the pattern figure (default: the first build/*/swa)")
    parser.add_argument("--stage", metavar="NAME",
                        help="the stage of the grade figure (default: the first with something wrong to show)")
    return parser.parse_args(argv)


def make_everything(args):
    """Reads and checks every input first, so a bad file stops the run before anything is written."""
    files = read_result_files(args.results)
    bench_files = [f for f in files if f.kind == BENCH_SCHEMA]
    grade_files = [f for f in files if f.kind == GRADE_SCHEMA]
    readme = None if args.no_readme else args.readme
    if readme is not None and not bench_files:
        raise ResultError(f"the README's results table needs a {BENCH_SCHEMA} file, and none of "
                          f"{', '.join(f.name for f in files)} is one: add one, or pass --no-readme")
    if readme is not None and not Path(readme).is_file():
        raise ResultError(f"{display_path(readme)}: no such README (pass --readme PATH or --no-readme)")
    if args.stage is not None and not grade_files:
        raise ResultError(f"--stage {args.stage}: no {GRADE_SCHEMA} file among the results")
    grade_figures = {}  # figure path -> (grade file, the stage to draw)
    for grade in grade_files:
        target = fig_grade.grade_figure_path(args.out, grade)
        if target in grade_figures:
            raise ResultError(f"{grade.name} and {grade_figures[target][0].name} would both be drawn as "
                              f"{target.name}: give the grade files different names")
        grade_figures[target] = (grade, fig_grade.pick_grade_stage(grade, args.stage))
    inputs = Inputs(bench=merge_bench_files(bench_files) if bench_files else None,
                    torch=[f for f in files if f.kind == TORCH_SCHEMA], grades=grade_files,
                    swa=fig_patterns.find_swa(args.swa))
    for module in FIGURES:  # what a figure can refuse before anything is drawn
        getattr(module, "check", lambda inputs: None)(inputs)

    Path(args.out).mkdir(parents=True, exist_ok=True)
    use_house_style()
    written = []  # (path, caption)
    for module in FIGURES:
        reason = module.needs(inputs)
        if reason:
            say(f"skipped {module.FILE}: {reason}")
            continue
        drawn = module.draw(inputs, Path(args.out) / module.FILE)
        if drawn is not None:
            written.append((drawn, module.CAPTION))
    for target, (grade, stage) in grade_figures.items():
        drawn = fig_grade.draw_grade_figure(grade, stage, target)
        if drawn is not None:
            written.append((drawn, fig_grade.caption(drawn)))
    if readme is not None:
        rewrite_readme_block(readme, readme_block(inputs.bench, written, readme))
    return [path for path, _ in written]


def main(argv=None):
    args = parse_args(argv)
    try:
        make_everything(args)
    except ResultError as error:
        print(f"make_plots: {error}", file=sys.stderr)
        return 1
    return 0
