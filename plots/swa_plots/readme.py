"""The README's results block: everything from the line `<!-- results:begin -->` to the line
`<!-- results:end -->` is rewritten from the results; it is added at the end of the README the first
time and only replaced after that."""
import os
from pathlib import Path

from .bench import measured, series_key
from .common import EXERCISE_HEAD_DIM, EXERCISE_PATTERN, EXERCISE_SPEEDUP_TARGETS, GROUPS, ResultError, \
    display_path, format_ms, say
from .fig_ladder import pick_ladder_shape

README_BEGIN = "<!-- results:begin -->"
README_END = "<!-- results:end -->"


def results_table(bench):
    """The exercise's shapes and the ladder's shape, in a Markdown table."""
    ladder = pick_ladder_shape(bench.results)
    rows = [r for r in bench.results if r["group"] == "exercise" or (r["B"], r["H"], r["N"]) == ladder]
    rows.sort(key=lambda r: (GROUPS.index(r["group"]), r["N"], series_key(r)))
    with_pattern = len({r["pattern"] for r in rows}) > 1  # else the line above the table names it
    header = ["stage", "B, H, N, D"] + (["pattern"] if with_pattern else []) + [
        "window ms", "useful TFLOP/s", "full ms", "speedup", "exercise's table", "tile bound"]
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + ("---|" if with_pattern else "") + "--:|" * 6]
    for r in rows:
        window, full = measured(r, "window"), measured(r, "full")
        target = EXERCISE_SPEEDUP_TARGETS.get(r["N"]) if is_exercise_shape(r) else None
        cells = [r["stage"], f"{r['B']}, {r['H']}, {r['N']}, {r['D']}"]
        cells += [f"`{r['pattern']}`"] if with_pattern else []
        cells += [format_ms(window["median_ms"]) if window else skipped_cell(r, "window"),
                  f"{window['useful_tflops']:.2f}" if window else "-",
                  format_ms(full["median_ms"]) if full else skipped_cell(r, "full"),
                  f"{r['speedup']:.2f}x" if "speedup" in r else "-",
                  f"{target:g}x" if target else "-",
                  f"{r['tile_bound']:.2f}x" if "tile_bound" in r else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def is_exercise_shape(result):
    return (result["group"] == "exercise" and result["pattern"] == EXERCISE_PATTERN
            and result["D"] == EXERCISE_HEAD_DIM)


def skipped_cell(result, run):
    if "skipped" in result or "skipped" in (result.get(run) or {}):
        return "skipped"
    return "-"


def readme_block(bench, figures, readme_path):
    """The block's text: provenance, the figures [(path, caption)] and the results table."""
    here = Path(readme_path).resolve().parent

    def link(path):
        return Path(os.path.relpath(Path(path).resolve(), here)).as_posix()
    sources = ", ".join(f"`{link(f.path)}`" for f in bench.files)
    patterns = ", ".join(f"`{p}`" for p in sorted({r["pattern"] for r in bench.results}))
    lines = [README_BEGIN,
             "<!-- Written by plots/make_plots.py from the result files named below: edit those and rerun "
             "`python3 plots/make_plots.py`, not this block. -->",
             "## Results", "",
             f"Measured on {bench.provenance()}; pattern {patterns} (from {sources}).", ""]
    images = [f'<img src="{link(path)}" alt="{caption}" width="49%">' for path, caption in figures]
    lines += (images + [""]) if images else []
    lines += results_table(bench)
    lines += ["", "Times are medians with the L2 cache flushed; full attention is the same stage at W ≥ N; the "
                  "tile bound is the key tiles full attention visits over those the window visits; useful "
                  "TFLOP/s counts 4·D FLOPs per (i, j) pair the pattern allows. The exercise's table asks "
                  "1.7x, 2.5x and 3.2x over full attention on one head; there the busiest query tile decides "
                  "the time (5 key tiles against 8 at N = 512), which caps the speedup at 1.6x "
                  "([docs/analysis.md](docs/analysis.md)). The grader's own speed targets are in "
                  "[docs/grading.md](docs/grading.md).",
              README_END]
    return "\n".join(lines)


def rewrite_readme_block(readme_path, block):
    """Replaces the lines from README_BEGIN to README_END with `block`, or adds it at the end."""
    name = display_path(readme_path)
    try:
        text = Path(readme_path).read_text()
    except OSError as error:
        raise ResultError(f"{name}: cannot read: {error.strerror}")
    lines = text.splitlines(keepends=True)
    begins = [k for k, line in enumerate(lines) if line.strip() == README_BEGIN]
    ends = [k for k, line in enumerate(lines) if line.strip() == README_END]
    if not begins and not ends:
        new_text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + block + "\n"
    elif len(begins) == 1 and len(ends) == 1 and begins[0] < ends[0]:
        new_text = "".join(lines[:begins[0]]) + block + "\n" + "".join(lines[ends[0] + 1:])
    else:
        raise ResultError(f"{name}: expected one line '{README_BEGIN}' and, after it, one line '{README_END}'; "
                          f"found {len(begins)} and {len(ends)}{' in the wrong order' if begins and ends else ''}: "
                          "fix the README by hand")
    Path(readme_path).write_text(new_text)
    say(f"rewrote the results block of {name}")


