#!/usr/bin/env python3
"""make_plots.py: every figure of the course kit, and the README's results block, from saved results.

    python3 plots/make_plots.py        # plots/results/*.json -> plots/figures/*.png, and the README's block
    python3 plots/make_plots.py --results grade-results/grade.json --out /tmp/figures --no-readme

The figures:
  1. speedup.png        speedup over full attention against N, per stage, with the exercise's targets and
                        the tile-count bound as reference lines                         (benchmark JSON)
  2. time_vs_n.png      time against N, log-log: full attention grows as N², the window as N·W (benchmark)
  3. stage_ladder.png   useful TFLOP/s of each stage at a shape that fills the GPU          (benchmark)
  4. patterns.png       the attention patterns and the key tiles a query tile visits, as `swa pattern`
                        draws them from the kit's own definitions                   (a built `swa`)
  5. NAME_errors.png    one grading run: which query rows and which part of the window are wrong, and the
                        weights the grader recovered next to the right ones            (grade NAME.json)

Inputs are the JSON files `swa bench --json FILE` (schema swa-bench/1; several files are merged) and
`swa grade --out DIR` (DIR/grade.json, schema swa-grade/1) write; the Gradescope results.json beside a
grade.json is passed over. Each is checked against plots/schemas/*.schema.json first: a file that does not
match stops the command, before anything is written, with its name and the field at fault.
The README block is everything from the line `<!-- results:begin -->` to the line `<!-- results:end -->`;
it is added at the end of the README the first time and only replaced after that.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

try:
    import jsonschema
    import matplotlib

    matplotlib.use("Agg")  # files only, no window: works on a machine without a display
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.collections import LineCollection
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle
    from matplotlib.ticker import FuncFormatter, LogLocator
except ImportError as missing:
    sys.exit(f"make_plots: the Python package '{missing.name}' is missing: "
             "python3 -m pip install -r plots/requirements.txt")

# ---------------------------------------------------------------------------------------------------
# Where things are, and the numbers the figures are drawn against
# ---------------------------------------------------------------------------------------------------

PLOTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = PLOTS_DIR.parent
DEFAULT_RESULTS = PLOTS_DIR / "results"
DEFAULT_FIGURES = PLOTS_DIR / "figures"
DEFAULT_README = REPO_ROOT / "README.md"
SCHEMA_DIR = PLOTS_DIR / "schemas"

BENCH_SCHEMA = "swa-bench/1"
GRADE_SCHEMA = "swa-grade/1"
SCHEMA_FILES = {BENCH_SCHEMA: "bench.schema.json", GRADE_SCHEMA: "grade.schema.json"}

SPEEDUP_FIGURE = "speedup.png"
TIME_FIGURE = "time_vs_n.png"
LADDER_FIGURE = "stage_ladder.png"
PATTERNS_FIGURE = "patterns.png"
GRADE_FIGURE_SUFFIX = "_errors.png"  # after the grade file's name: grade.json -> grade_errors.png
FIGURE_CAPTIONS = {
    SPEEDUP_FIGURE: "Speedup over full attention against N, per stage",
    TIME_FIGURE: "Time against N: full attention against the sliding window",
    LADDER_FIGURE: "The stage ladder: useful TFLOP/s per stage",
    PATTERNS_FIGURE: "Attention patterns and the key tiles a query tile visits",
}

# The exercise: one head (B = H = 1), sliding:128, D = 64, and the speedup over full attention each
# exercise size must reach.
EXERCISE_PATTERN = "sliding:128"
EXERCISE_HEAD_DIM = 64
EXERCISE_SPEEDUP_TARGETS = {512: 1.7, 1024: 2.5, 2048: 3.2}

# The benchmark's two groups of shapes (grader/bench.h), in the order the figures show them.
GROUPS = ["exercise", "fill"]
GROUP_TITLES = {"exercise": "exercise shapes: one head (B = H = 1)",
                "fill": "shapes that fill the GPU (B = 4, H = 16)"}

# The stage ladder is drawn at a shape that fills the GPU: (B, H, N).
LADDER_SHAPE = (4, 16, 4096)

# Figure 4: which patterns, at which N, with which tile size (0: no tiles), and which query tile's visits
# to outline (None: none).
@dataclass(frozen=True)
class PatternPanel:
    spec: str
    N: int
    tile: int
    query_tile: int | None
    note: str


PATTERN_PANELS = [
    PatternPanel("sliding:2", 8, 0, None, "the exercise's picture"),
    PatternPanel("sliding:3", 16, 4, 1, "sliding window"),
    PatternPanel("causal:3", 16, 4, 2, "causal sliding window"),
    PatternPanel("dilated:1:4", 16, 4, 1, "dilated window (Longformer)"),
    PatternPanel("global:2:0,9", 16, 4, 2, "global + local: tile 2 holds global position 9"),
    PatternPanel("adaptive:0:4", 16, 4, 2, "a window per query, drawn from [0, 4]"),
]
SWA_TIMEOUT_S = 30
BRACKET_GAP = 0.4  # between the picture and the bar that marks the query tile, in cells

# Figure 5: how far the error map reaches past the keys that matter, in key positions, and the smallest
# weight outside the pattern that is marked as one (the recovered weights carry rounding noise).
OFFSET_MARGIN = 2
STRAY_WEIGHT_SHOWN = 1e-4
# Marks drawn over the cells keep their size up to SMALL_PICTURE_N keys and shrink with the cells above it.
SMALL_PICTURE_N = 40
STRAY_MARKER_SIZE = 14  # points², of the ring around a weight outside the pattern
OUTLINE_WIDTH, THINNEST_OUTLINE = 1.2, 0.5  # points, of the line around the pattern

README_BEGIN = "<!-- results:begin -->"
README_END = "<!-- results:end -->"

DPI = 150
TITLE_WIDTH = 60  # characters of a grader's summary per line of a panel title
FOOTER_WIDTH = 200  # characters of the grader's feedback per line under figure 5
MAX_REPORTED_ERRORS = 8  # schema errors listed for one file before "and N more"

COLORS = {
    "bound": "#222222",
    "target": "#d62728",
    "guide": "#8c8c8c",
    "allowed": "#1f3b73",
    "full_tile": "#cdebc5",
    "partial_tile": "#fde0b0",
    "visited": "#d62728",
    "window_edge": "#d62728",
    "not_a_number": "#e7298a",
    "window_span": "#dbe6f4",
}


class ResultError(Exception):
    """A result file (or the README) that is missing or malformed; the message names the file and field."""


def say(message):
    print(f"make_plots: {message}")


def display_path(path):
    """The path relative to the current folder when it is below it, else as given."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------------------------
# Reading and checking the result files
# ---------------------------------------------------------------------------------------------------

@dataclass
class ResultFile:
    path: Path
    data: dict

    @property
    def kind(self):
        return self.data["schema"]

    @property
    def name(self):
        return display_path(self.path)


def read_result_files(items):
    """The result files named by --results (files as given, folders as their *.json files), read and checked.
    A folder may also hold the Gradescope results.json that `swa grade --out DIR` writes beside grade.json:
    it is passed over."""
    files = []
    for item in items:
        item = Path(item)
        if item.is_dir():
            found = sorted(item.glob("*.json"))
            if not found:
                raise ResultError(f"{display_path(item)}: no *.json result files in this folder "
                                  "(make them with `swa bench --json FILE` or `swa grade --out DIR`)")
            for path in found:
                data = read_json(path)
                if is_gradescope_results(data):
                    say(f"passed over {display_path(path)}: Gradescope's results, not a file this script reads")
                else:
                    files.append(checked_result_file(path, data))
        elif item.is_file():
            files.append(checked_result_file(item, read_json(item)))
        else:
            raise ResultError(f"{display_path(item)}: no such file or folder")
    return files


def read_json(path):
    name = display_path(path)
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ResultError(f"{name}: not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}")
    except (OSError, UnicodeDecodeError) as error:
        raise ResultError(f"{name}: cannot read: {getattr(error, 'strerror', None) or error}")


def is_gradescope_results(data):
    return isinstance(data, dict) and "schema" not in data and isinstance(data.get("tests"), list)


def checked_result_file(path, data):
    """`data` read from `path`, checked against the schema its "schema" field names."""
    name = display_path(path)
    if not isinstance(data, dict):
        raise ResultError(f"{name}: expected a JSON object at the top level, got {short_json(data)}")
    if is_gradescope_results(data):
        raise ResultError(f"{name}: this is Gradescope's results.json; give the grade.json beside it")
    if "schema" not in data:
        raise ResultError(f"{name}: schema: missing (expected \"{BENCH_SCHEMA}\" or \"{GRADE_SCHEMA}\")")
    if data["schema"] not in SCHEMA_FILES:
        raise ResultError(f"{name}: schema: {short_json(data['schema'])} is not a format this script reads "
                          f"(\"{BENCH_SCHEMA}\" or \"{GRADE_SCHEMA}\")")
    problems = schema_problems(data)
    if data["schema"] == GRADE_SCHEMA and not problems:
        problems = grade_matrix_problems(data)
    if problems:
        shown = problems[:MAX_REPORTED_ERRORS]
        more = len(problems) - len(shown)
        lines = [f"{name}: {problem}" for problem in shown] + ([f"{name}: ... and {more} more"] if more else [])
        raise ResultError("\n".join(lines))
    return ResultFile(Path(path), data)


def schema_problems(data):
    """One line per way `data` breaks its schema, in the order of the file."""
    schema = json.loads((SCHEMA_DIR / SCHEMA_FILES[data["schema"]]).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in validator.iter_errors(data):
        for line in describe_schema_error(error):
            if line not in problems:
                problems.append(line)
    return problems


def field_path(parts):
    """["results", 3, "window"] -> "results[3].window"."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


JSON_TYPE_NAMES = {"number": "a number", "integer": "an integer", "string": "a string", "array": "a list",
                   "object": "an object", "boolean": "true or false", "null": "null"}


def short_json(value, limit=40):
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe_schema_error(error):
    """jsonschema's error as "field.path: what is wrong" lines."""
    where = list(error.absolute_path)
    kind, wanted, got = error.validator, error.validator_value, error.instance
    if kind == "required":
        return [f"{field_path(where + [name])}: missing" for name in wanted if name not in got]
    if kind == "type":
        names = [JSON_TYPE_NAMES.get(t, t) for t in ([wanted] if isinstance(wanted, str) else wanted)]
        return [f"{field_path(where)}: expected {' or '.join(names)}, got {short_json(got)}"]
    if kind in ("enum", "const"):
        allowed = wanted if kind == "enum" else [wanted]
        return [f"{field_path(where)}: {short_json(got)} is not one of {', '.join(json.dumps(a) for a in allowed)}"]
    if kind == "anyOf":  # e.g. a recovered weight: a number, or a word for what was not one
        wants = []
        for alternative in error.context:
            if alternative.validator == "type":
                wants.append(JSON_TYPE_NAMES.get(alternative.validator_value, alternative.validator_value))
            elif alternative.validator == "enum":
                wants.append("one of " + ", ".join(json.dumps(a) for a in alternative.validator_value))
        if wants:
            return [f"{field_path(where)}: expected {' or '.join(wants)}, got {short_json(got)}"]
    if kind == "minimum":
        return [f"{field_path(where)}: {got} is below the smallest allowed value, {wanted}"]
    if kind == "exclusiveMinimum":
        return [f"{field_path(where)}: {got} must be greater than {wanted}"]
    return [f"{field_path(where)}: {error.message}"]


def grade_matrix_problems(data):
    """What the schema cannot say: every per-query list and weight matrix of a case is N long (N x N)."""
    problems = []
    for s, stage in enumerate(data["stages"]):
        for c, check in enumerate(stage.get("checks", [])):
            for k, case in enumerate(check.get("cases", [])):
                where = f"stages[{s}].checks[{c}].cases[{k}]"
                N = case["N"]
                if "bad_per_query" in case and len(case["bad_per_query"]) != N:
                    problems.append(f"{where}.bad_per_query: {len(case['bad_per_query'])} values, "
                                    f"but the case's N is {N}")
                for name, matrix in case.get("weights", {}).items():
                    if name not in ("recovered", "expected"):
                        continue
                    if len(matrix) != N:
                        problems.append(f"{where}.weights.{name}: {len(matrix)} rows, but the case's N is {N}")
                    for i, row in enumerate(matrix):
                        if len(row) != N:
                            problems.append(f"{where}.weights.{name}[{i}]: {len(row)} values, "
                                            f"but the case's N is {N}")
                            break
    return problems


# ---------------------------------------------------------------------------------------------------
# The benchmark results, merged from one or more files
# ---------------------------------------------------------------------------------------------------

@dataclass
class Bench:
    files: list  # of ResultFile
    results: list  # every result of every file, in file order

    def provenance(self):
        """Which GPU, date, commit and variant the results came from, one entry per distinct run."""
        runs = []
        for f in self.files:
            run = (f"{f.data['gpu']}, {f.data['date'][:10]}, commit {f.data['commit']}, "
                   f"{f.data['variant']} stages")
            if run not in runs:
                runs.append(run)
        return "; ".join(runs)


def merge_bench_files(files):
    seen = {}
    results = []
    for f in files:
        for k, result in enumerate(f.data["results"]):
            key = (result["stage"], result["pattern"], result["B"], result["H"], result["N"], result["D"])
            if key in seen:
                raise ResultError(f"{f.name}: results[{k}]: {result['stage']} at B={result['B']}, H={result['H']}, "
                                  f"N={result['N']}, D={result['D']}, {result['pattern']} is also in {seen[key]}: "
                                  "give each measurement once")
            seen[key] = f.name
            results.append(result)
    return Bench(files, results)


def measured(result, run):
    """The result's "window" or "full" run if it was timed, else None (skipped, or not run)."""
    r = result.get(run)
    return r if isinstance(r, dict) and "median_ms" in r else None


def series_key(result):
    return (result["stage"], result["pattern"], result["D"])


def series_label(key, all_keys):
    """The stage's name, with the pattern and D only where the results mix several."""
    stage, pattern, D = key
    extra = []
    if len({k[1] for k in all_keys}) > 1:
        extra.append(pattern)
    if len({k[2] for k in all_keys}) > 1:
        extra.append(f"D={D}")
    return stage + (f" ({', '.join(extra)})" if extra else "")


def series_colors(results):
    keys = sorted({series_key(r) for r in results})
    palette = plt.get_cmap("tab10")
    return {key: palette(k % palette.N) for k, key in enumerate(keys)}


def series(results, value):
    """{series key: ([N, ...], [value, ...])} sorted by N, for the results where value(result) is not None."""
    points = {}
    for r in results:
        v = value(r)
        if v is not None:
            points.setdefault(series_key(r), []).append((r["N"], v))
    return {key: tuple(map(list, zip(*sorted(p)))) for key, p in sorted(points.items())}


def describe_shapes(results):
    """ "B=1, H=1, D=64, sliding:128" for the results of one panel (several values joined by '/')."""
    def values(name):
        return "/".join(str(v) for v in sorted({r[name] for r in results}))
    return f"B={values('B')}, H={values('H')}, D={values('D')}, {values('pattern')}"


def group_results(bench, group):
    return [r for r in bench.results if r["group"] == group]


# ---------------------------------------------------------------------------------------------------
# Drawing helpers
# ---------------------------------------------------------------------------------------------------

def use_house_style():
    plt.rcParams.update({
        "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
        "axes.spines.top": False, "axes.spines.right": False,
        "axes.grid": True, "grid.alpha": 0.3, "grid.linewidth": 0.6,
        "savefig.facecolor": "white", "figure.facecolor": "white",
    })


def save(fig, path):
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    say(f"wrote {display_path(path)}")
    return Path(path)


def sequence_length_axis(ax, ns):
    """A log2 axis of N with a tick at each measured N."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns)
    ax.set_xticklabels([str(n) for n in ns])
    ax.minorticks_off()
    ax.set_xlabel("sequence length N (tokens)")


def say_nothing_measured(ax, what):
    ax.text(0.5, 0.5, f"no {what} measured", transform=ax.transAxes, ha="center", va="center", color="grey")


# ---------------------------------------------------------------------------------------------------
# Figure 1: speedup over full attention against N
# ---------------------------------------------------------------------------------------------------

def draw_speedup_figure(bench, path):
    fig, axes = plt.subplots(1, len(GROUPS), figsize=(13, 5), constrained_layout=True)
    colors = series_colors(bench.results)
    for ax, group in zip(axes, GROUPS):
        draw_speedup_panel(ax, group_results(bench, group), group, colors)
    fig.suptitle("Speedup of the sliding window over full attention (the same stage run at W ≥ N), "
                 f"median times\n{bench.provenance()}")
    return save(fig, path)


def draw_speedup_panel(ax, results, group, colors):
    ax.set_title(f"{GROUP_TITLES[group]}\n{describe_shapes(results) if results else ''}")
    speedups = series(results, lambda r: r.get("speedup"))
    if not speedups:
        say_nothing_measured(ax, "speedups")
        return
    all_keys = list(speedups)
    for key, (ns, values) in speedups.items():
        ax.plot(ns, values, marker="o", color=colors[key], label=series_label(key, all_keys))
    draw_tile_bounds(ax, results)
    if group == "exercise":
        draw_exercise_targets(ax, results)
    ax.axhline(1.0, color=COLORS["guide"], linestyle=":", linewidth=1, label="1x: no gain")
    ns = sorted({r["N"] for r in results})
    sequence_length_axis(ax, ns)
    if group == "fill":
        ax.set_yscale("log")  # 1x to 50x: a log scale keeps the small sizes readable
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}x"))
    ax.set_ylabel("speedup over full attention")
    ax.legend(loc="upper left")


def draw_tile_bounds(ax, results):
    """The tile-count bound: key tiles full attention visits over key tiles the window visits."""
    bounds = {}
    for r in results:
        if "tile_bound" in r:
            bounds.setdefault(r["pattern"], {})[r["N"]] = r["tile_bound"]
    for pattern, by_n in sorted(bounds.items()):
        ns = sorted(by_n)
        label = "tile-count bound" + (f" ({pattern})" if len(bounds) > 1 else "")
        ax.plot(ns, [by_n[n] for n in ns], color=COLORS["bound"], linestyle="--", linewidth=1.2,
                marker="_", markersize=10, label=label, zorder=1)


def draw_exercise_targets(ax, results):
    """The exercise's targets, where the panel holds the exercise's own pattern and head size."""
    if not any(r["pattern"] == EXERCISE_PATTERN and r["D"] == EXERCISE_HEAD_DIM for r in results):
        return
    ns = sorted(EXERCISE_SPEEDUP_TARGETS)
    targets = [EXERCISE_SPEEDUP_TARGETS[n] for n in ns]
    ax.plot(ns, targets, linestyle=":", linewidth=1.2, marker="*", markersize=12, color=COLORS["target"],
            zorder=5, label=f"the exercise's table ({EXERCISE_PATTERN}, D={EXERCISE_HEAD_DIM})")
    for n, target in zip(ns, targets):
        ax.annotate(f"{target:g}x", (n, target), textcoords="offset points", xytext=(8, -10),
                    color=COLORS["target"], fontsize=8)


# ---------------------------------------------------------------------------------------------------
# Figure 2: time against N, log-log
# ---------------------------------------------------------------------------------------------------

def draw_time_figure(bench, path):
    fig, axes = plt.subplots(1, len(GROUPS), figsize=(13, 5), constrained_layout=True)
    colors = series_colors(bench.results)
    for ax, group in zip(axes, reversed(GROUPS)):  # the GPU-filling shapes first: they show the growth
        draw_time_panel(ax, group_results(bench, group), group, colors)
    all_keys = sorted(colors)
    handles = [Line2D([], [], color=colors[key], marker="o", label=series_label(key, all_keys)) for key in all_keys]
    handles += [Line2D([], [], color="black", marker="o", label="sliding window"),
                Line2D([], [], color="black", marker="s", markersize=4, linestyle="--",
                       label="full attention (W ≥ N)"),
                Line2D([], [], color=COLORS["guide"], linestyle=":", linewidth=2, label="slope 2: ∝ N²"),
                Line2D([], [], color=COLORS["guide"], linestyle="-.", linewidth=1.5, label="slope 1: ∝ N")]
    fig.legend(handles=handles, loc="outside lower center", ncol=(len(handles) + 1) // 2, frameon=False)
    fig.suptitle("Time against N (log-log): full attention grows as N², the sliding window as N·W\n"
                 f"{bench.provenance()}")
    return save(fig, path)


def draw_time_panel(ax, results, group, colors):
    ax.set_title(f"{GROUP_TITLES[group]}\n{describe_shapes(results) if results else ''}")
    window = series(results, lambda r: (measured(r, "window") or {}).get("median_ms"))
    full = series(results, lambda r: (measured(r, "full") or {}).get("median_ms"))
    if not window and not full:
        say_nothing_measured(ax, "times")
        return
    for key in sorted(set(window) | set(full)):
        if key in window:
            ax.plot(*window[key], marker="o", color=colors[key])
        if key in full:
            ax.plot(*full[key], marker="s", markersize=4, linestyle="--", color=colors[key], alpha=0.8)
    draw_growth_guides(ax, window, full)
    sequence_length_axis(ax, sorted({r["N"] for r in results}))
    ax.set_yscale("log")
    ax.set_ylabel("time per call (ms, median)")


def draw_growth_guides(ax, window, full):
    """Lines of slope 2 and 1 ending a little below the fastest full and window runs at the largest N, so
    they stay under every series that grows no faster than they do."""
    below = 0.5  # how far below the fastest run a guide ends
    for runs, power, style in ((full, 2, ":"), (window, 1, "-.")):
        if not runs:
            continue
        n0 = min(ns[0] for ns, _ in runs.values())
        n1 = max(ns[-1] for ns, _ in runs.values())
        t1 = below * min(ts[ns.index(n1)] for ns, ts in runs.values() if n1 in ns)
        guide_ns = np.geomspace(n0, n1, 20)
        ax.plot(guide_ns, t1 * (guide_ns / n1) ** power, color=COLORS["guide"], linestyle=style,
                linewidth=2 if power == 2 else 1.5, zorder=0)


# ---------------------------------------------------------------------------------------------------
# Figure 3: the stage ladder
# ---------------------------------------------------------------------------------------------------

def pick_ladder_shape(results):
    """LADDER_SHAPE when it was measured, else the largest GPU-filling shape, else the largest shape."""
    shapes = {(r["B"], r["H"], r["N"]) for r in results}
    if LADDER_SHAPE in shapes:
        return LADDER_SHAPE
    fill = [(r["B"], r["H"], r["N"]) for r in results if r["group"] == "fill"]
    return max(fill or shapes, key=lambda shape: (shape[2], shape[0] * shape[1]))


def draw_ladder_figure(bench, path):
    B, H, N = pick_ladder_shape(bench.results)
    rows = sorted((r for r in bench.results if (r["B"], r["H"], r["N"]) == (B, H, N)), key=series_key)
    all_keys = [series_key(r) for r in rows]
    colors = series_colors(bench.results)
    fig, ax = plt.subplots(figsize=(10, 5.2), constrained_layout=True)
    width = 0.38
    x = np.arange(len(rows))
    tallest = max([(measured(r, run) or {}).get("useful_tflops", 0) for r in rows for run in ("window", "full")])
    for k, r in enumerate(rows):
        draw_ladder_bars(ax, x[k], width, r, colors[series_key(r)], tallest)
    ax.set_xticks(x)
    ax.set_xticklabels([series_label(key, all_keys).replace("_", "\n", 1) for key in all_keys])
    ax.set_ylabel("useful TFLOP/s (4·D FLOPs per (i, j) pair the pattern allows)")
    ax.set_ylim(0, tallest * 1.25 if tallest > 0 else 1)
    ax.grid(axis="x", visible=False)
    ax.legend(handles=[Patch(facecolor="grey", label="sliding window"),
                       Patch(facecolor="white", edgecolor="grey", hatch="//", label="full attention (W ≥ N)")],
              loc="upper left")
    ax.set_title(f"The stage ladder at B={B}, H={H}, N={N}, {describe_shapes(rows).split(', ', 2)[2]}: "
                 f"labels give TFLOP/s and the median time\n{bench.provenance()}")
    return save(fig, path)


def draw_ladder_bars(ax, x, width, result, color, tallest):
    """The window run's bar (solid) and the full-attention run's (hatched), each labelled."""
    label_gap = 0.015 * tallest
    for offset, run, style in ((-width / 2, "window", {"color": color}),
                               (width / 2, "full", {"facecolor": "white", "edgecolor": color, "hatch": "//"})):
        timed = measured(result, run)
        if timed is None:
            ax.text(x + offset, label_gap, f"{run}:\nskipped", ha="center", va="bottom", fontsize=7, color="grey")
            continue
        ax.bar(x + offset, timed["useful_tflops"], width, **style)
        label = f"{timed['useful_tflops']:.2f}\n{format_ms(timed['median_ms'])} ms"
        if run == "window" and timed.get("check", "passed") != "passed":
            label += "\ncheck FAILED"
        ax.text(x + offset, timed["useful_tflops"] + label_gap, label, ha="center", va="bottom", fontsize=7)


def format_ms(ms):
    """Three or four significant digits: 0.0309, 0.376, 3.414, 51.03, 313.9."""
    decimals = 4 if ms < 0.1 else 3 if ms < 10 else 2 if ms < 100 else 1
    return f"{ms:.{decimals}f}"


# ---------------------------------------------------------------------------------------------------
# Figure 4: the patterns, from `swa pattern`
# ---------------------------------------------------------------------------------------------------

@dataclass
class PatternPicture:
    """What `swa pattern SPEC -N n --tiles t` printed: allowed[i][j], and a row of tile classes per query tile."""
    spec: str
    N: int
    tile: int
    allowed: list  # N lists of N booleans
    tiles: list  # one string per query tile, "F", "P" or "." per key tile; empty without tiles


PATTERN_ROW = re.compile(r"^i=\s*(\d+)\s+((?:[x.] ?)+)$")  # i= 3  . x x x x x . .
TILE_ROW = re.compile(r"^m=(\d+)\s+((?:[FP.] ?)+)$")  # m=0  F P . .


def find_swa(explicit):
    """--swa if given, else the first build/*/swa under the repository; None when there is none."""
    if explicit is not None:
        if not (Path(explicit).is_file() and os.access(explicit, os.X_OK)):
            raise ResultError(f"--swa {explicit}: no such program")
        return Path(explicit)
    for candidate in sorted(REPO_ROOT.glob("build/*/swa")):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def run_swa_pattern(swa, spec, N, tile):
    command = [str(swa), "pattern", spec, "-N", str(N)] + (["--tiles", str(tile)] if tile else [])
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=SWA_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ResultError(f"{' '.join(command)}: {error}")
    if done.returncode != 0:
        raise ResultError(f"{' '.join(command)}: exit status {done.returncode}: {done.stderr.strip()}")
    return parse_pattern_output(done.stdout, spec, N, tile)


def parse_pattern_output(text, spec, N, tile):
    """Reads the rows `i= 3  . x x ...` and `m=0  F P . .` that `swa pattern` prints."""
    allowed, tiles = [], []
    for line in text.splitlines():
        line = line.rstrip()
        if match := PATTERN_ROW.match(line):
            allowed.append([cell == "x" for cell in match.group(2).split()])
        elif match := TILE_ROW.match(line):
            tiles.append("".join(match.group(2).split()))
    where = f"`swa pattern {spec} -N {N}" + (f" --tiles {tile}`" if tile else "`")
    if len(allowed) != N or any(len(row) != N for row in allowed):
        raise ResultError(f"{where} printed {len(allowed)} rows of {[len(r) for r in allowed][:3]}... cells, "
                          f"expected {N} rows of {N}")
    tile_count = -(-N // tile) if tile else 0
    if len(tiles) != tile_count or any(len(row) != tile_count for row in tiles):
        raise ResultError(f"{where} printed {len(tiles)} tile rows, expected {tile_count} rows of {tile_count}")
    return PatternPicture(spec, N, tile, allowed, tiles)


def draw_patterns_figure(swa, path):
    pictures = [run_swa_pattern(swa, p.spec, p.N, p.tile) for p in PATTERN_PANELS]
    columns = 3
    rows = -(-len(pictures) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 4.5 * rows), constrained_layout=True)
    for ax, picture, panel in zip(axes.flat, pictures, PATTERN_PANELS):
        draw_pattern_panel(ax, picture, panel)
    for ax in list(axes.flat)[len(pictures):]:
        ax.set_axis_off()
    fig.legend(handles=[Patch(color=COLORS["allowed"], label="query i may see key j"),
                        Patch(color=COLORS["full_tile"], label="F: full key tile, no mask"),
                        Patch(color=COLORS["partial_tile"], label="P: partial key tile, masked"),
                        Patch(facecolor="none", edgecolor=COLORS["visited"], linewidth=2,
                              label="key tiles the marked query tile visits")],
               loc="lower center", ncol=4, bbox_to_anchor=(0.5, -0.04), frameon=False)
    fig.suptitle("Attention patterns as the kit defines them (drawn by `swa pattern`): row i is a query, "
                 "column j a key.\nTiles of 4 × 4 here; the kernels use 64 × 64 and the picture is the same.")
    return save(fig, path)


def draw_pattern_panel(ax, picture, panel):
    N, tile = picture.N, picture.tile
    ax.set_xlim(-0.5, N - 0.5)
    ax.set_ylim(N - 0.5, -0.5)  # query 0 at the top, as `swa pattern` prints it
    ax.set_aspect("equal")
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(True)
    if tile:
        shade_tiles(ax, picture)
    for i, row in enumerate(picture.allowed):
        for j, allowed in enumerate(row):
            if allowed:
                ax.add_patch(Rectangle((j - 0.38, i - 0.38), 0.76, 0.76, color=COLORS["allowed"], linewidth=0))
    draw_cell_grid(ax, N, tile)
    title = f"{picture.spec}, N = {N}: {panel.note}"
    if tile and panel.query_tile is not None:
        title += "\n" + outline_visited_tiles(ax, picture, panel.query_tile)
    ax.set_title(title, fontsize=9)
    ax.set_xticks(range(N))
    ax.set_yticks(range(N))
    ax.tick_params(labelsize=6, length=0, labeltop=True, labelbottom=False)
    ax.set_xlabel("key j")
    ax.set_ylabel("query i")


def shade_tiles(ax, picture):
    """Full tiles green, partial tiles orange, empty tiles left white."""
    shade = {"F": COLORS["full_tile"], "P": COLORS["partial_tile"]}
    t, N = picture.tile, picture.N
    for m, row in enumerate(picture.tiles):
        for n, tile_class in enumerate(row):
            if tile_class in shade:
                width, height = min(t, N - n * t), min(t, N - m * t)  # the last tiles may be short
                ax.add_patch(Rectangle((n * t - 0.5, m * t - 0.5), width, height, color=shade[tile_class],
                                       linewidth=0, zorder=0))


def draw_cell_grid(ax, N, tile):
    for k in range(N + 1):
        on_tile_edge = tile and k % tile == 0
        style = {"color": "#888888" if on_tile_edge else "#dddddd", "linewidth": 1.0 if on_tile_edge else 0.5}
        ax.axhline(k - 0.5, **style)
        ax.axvline(k - 0.5, **style)


def outline_visited_tiles(ax, picture, m):
    """Outlines the key tiles query tile m visits (every non-empty one), marks m's rows; returns a summary."""
    t, N = picture.tile, picture.N
    row = picture.tiles[m]
    for n, tile_class in enumerate(row):
        if tile_class != ".":
            ax.add_patch(Rectangle((n * t - 0.5, m * t - 0.5), min(t, N - n * t), min(t, N - m * t), fill=False,
                                   edgecolor=COLORS["visited"], linewidth=2.2, zorder=4))
    first, last = m * t - 0.5, min((m + 1) * t, N) - 0.5
    bracket_x = N - 0.5 + BRACKET_GAP
    ax.plot([bracket_x, bracket_x], [first, last], color=COLORS["visited"], linewidth=3, clip_on=False)
    ax.text(bracket_x + BRACKET_GAP, (first + last) / 2, f"m={m}", color=COLORS["visited"], va="center",
            fontsize=8)
    visited = len(row) - row.count(".")
    return (f"query tile m = {m} visits {visited} of {len(row)} key tiles: "
            f"{row.count('F')} F, {row.count('P')} P")


# ---------------------------------------------------------------------------------------------------
# Figure 5: a grading run's errors
# ---------------------------------------------------------------------------------------------------

def stage_cases(stage, check_name):
    for check in stage.get("checks", []):
        if check["name"] == check_name:
            yield from check.get("cases", [])


def check_feedback(stage, check_name):
    for check in stage.get("checks", []):
        if check["name"] == check_name:
            return check.get("feedback", [])
    return []


def pick_grade_stage(grade, wanted):
    """--stage if given; else the first stage that shows most, in this order: a failed window case with
    weights; a graded stage with a failed correctness case; any window weights. None when no stage has any
    (a stage that is not implemented has none worth drawing: every output is missing)."""
    stages = grade.data["stages"]
    if wanted is not None:
        for stage in stages:
            if stage["stage"] == wanted:
                return stage
        names = ", ".join(s["stage"] for s in stages) or "none"
        raise ResultError(f"{grade.name}: stages: no stage named {wanted} (the file has: {names})")

    def failed_correctness(stage):
        return any(not c["passed"] and "bad_per_query" in c for c in stage_cases(stage, "correctness"))

    tests = [lambda s: any("weights" in c and not c["passed"] for c in stage_cases(s, "window")),
             lambda s: s["status"] == "graded" and failed_correctness(s),
             lambda s: any("weights" in c for c in stage_cases(s, "window"))]
    for test in tests:
        for stage in stages:
            if test(stage):
                return stage
    return None


def pick_window_case(stage):
    cases = [c for c in stage_cases(stage, "window") if "weights" in c]
    failed = [c for c in cases if not c["passed"]]
    return (failed or cases or [None])[0]


def pick_correctness_case(stage):
    return next((c for c in stage_cases(stage, "correctness") if not c["passed"] and "bad_per_query" in c), None)


def grade_figure_path(out, grade):
    return Path(out) / (grade.path.stem + GRADE_FIGURE_SUFFIX)


def draw_grade_figure(grade, stage, path):
    """The figure for one stage of a grading run (pick_grade_stage's choice; None: there is nothing to draw)."""
    if stage is None:
        statuses = ", ".join(f"{s['stage']} {s['status']}" for s in grade.data["stages"]) or "no stages"
        say(f"skipped {Path(path).name}: {grade.name} has no window weights and no graded stage with a failed "
            f"correctness case to draw ({statuses})")
        return None
    window_case = pick_window_case(stage)
    correctness_case = pick_correctness_case(stage)
    if window_case is not None:  # the weights on top, the rows of the correctness case below
        fig = plt.figure(figsize=(14, 8.6), constrained_layout=True)
        grid = fig.add_gridspec(2, 3, height_ratios=[3, 1.2])
        draw_window_panels([fig.add_subplot(grid[0, k]) for k in range(3)], fig.add_subplot(grid[1, 2]),
                           window_case, fig)
        rows_ax = fig.add_subplot(grid[1, :2])
    else:
        fig, rows_ax = plt.subplots(figsize=(14, 3.8), constrained_layout=True)
    draw_bad_rows(rows_ax, correctness_case, stage)
    data = grade.data
    fig.suptitle(f"Grading run of {stage['stage']} ({data['variant']}): {stage['status']}, "
                 f"score {points(stage['score'])} of {points(stage['max_score'])}\n"
                 f"{data['gpu']}, {data['date'][:10]}, commit {data['commit']}, seed {data['seed']} "
                 f"({grade.name})")
    feedback = check_feedback(stage, "window")[:1] + check_feedback(stage, "correctness")[:1]
    if feedback:
        fig.text(0.01, -0.01, textwrap.fill("Grader: " + "  ".join(feedback), FOOTER_WIDTH), fontsize=9,
                 ha="left", va="top")
    return save(fig, path)


def points(score):
    return f"{round(score, 1):g}"


@dataclass
class WindowCase:
    """A window case's weights, as arrays: expected[i][j], recovered[i][j] (NaN where the kernel gave no
    number), allowed[i][j] (the pattern: the grader writes 0 outside it in `expected`), and their error."""
    expected: np.ndarray
    recovered: np.ndarray
    allowed: np.ndarray
    error: np.ndarray

    @staticmethod
    def of(case):
        expected = np.array(case["weights"]["expected"], dtype=float)
        recovered = as_numbers(case["weights"]["recovered"])
        return WindowCase(expected, recovered, expected > 0, np.abs(recovered - expected))


@dataclass
class OffsetView:
    """The error with keys placed by offset j - i: column k holds key i + offsets[k] of each query i."""
    offsets: np.ndarray
    error: np.ndarray  # NaN outside the sequence, and where the kernel gave no number
    allowed: np.ndarray
    not_a_number: np.ndarray

    @staticmethod
    def of(weights):
        """Offsets from the window's reach, or the farthest error's, plus OFFSET_MARGIN on each side."""
        N = len(weights.error)
        not_a_number = np.isnan(weights.error)
        i, j = np.nonzero(weights.allowed | (np.nan_to_num(weights.error) > 0) | not_a_number)
        low, high = (j - i).min() - OFFSET_MARGIN, (j - i).max() + OFFSET_MARGIN
        offsets = np.arange(max(low, -(N - 1)), min(high, N - 1) + 1)
        view = OffsetView(offsets, np.full((N, len(offsets)), np.nan), np.zeros((N, len(offsets)), dtype=bool),
                          np.zeros((N, len(offsets)), dtype=bool))
        for k, d in enumerate(offsets):
            rows = np.arange(max(0, -d), min(N, N - d))  # the queries whose key i + d exists
            view.error[rows, k] = weights.error[rows, rows + d]
            view.allowed[rows, k] = weights.allowed[rows, rows + d]
            view.not_a_number[rows, k] = not_a_number[rows, rows + d]
        return view


def draw_window_panels(axes, profile_ax, case, fig):
    """Expected and recovered weights over (query, key), the error over (query, key offset), and below it
    the worst error at each offset."""
    weights = WindowCase.of(case)
    shape = f"{case['pattern']}, N = {case['N']}" + (f", D = {case['D']}" if "D" in case else "")
    top = max(weights.expected.max(), np.nanmax(weights.recovered, initial=0), np.finfo(float).eps)
    cmap = plt.get_cmap("Blues").copy()
    cmap.set_bad(COLORS["not_a_number"])
    for ax, values, what in ((axes[0], weights.expected, "expected weights"),
                             (axes[1], weights.recovered, "recovered weights")):
        image = ax.imshow(values, cmap=cmap, vmin=0, vmax=top, interpolation="nearest")
        outline_cells(ax, weights.allowed, COLORS["window_edge"])
        ax.set_title(f"{what}: query i, key j (outlined: the pattern)\n{shape}, head 0")
        ax.set_xlabel("key j")
        ax.set_ylabel("query i")
        ax.grid(False)
    mark_stray_weights(axes[1], weights.recovered, weights.allowed)
    fig.colorbar(image, ax=axes[:2], shrink=0.7, label="softmax weight query i gives key j")
    view = OffsetView.of(weights)
    draw_error_by_offset(axes[2], view, case, fig)
    draw_error_profile(profile_ax, view)


def as_numbers(rows):
    """The recovered weights as floats; the words the grader writes for what was not a number become NaN."""
    return np.array([[x if isinstance(x, (int, float)) else np.nan for x in row] for row in rows], dtype=float)


def mark_stray_weights(ax, recovered, allowed):
    """Marks the keys outside the pattern that got a weight (the bug a window check exists to find), and
    names the colour of outputs that were not numbers."""
    i, j = np.nonzero(~allowed & (np.nan_to_num(recovered) > STRAY_WEIGHT_SHOWN))
    handles = []
    if len(i):
        size = STRAY_MARKER_SIZE * cell_scale(len(recovered)) ** 2
        handles.append(ax.scatter(j, i, marker="o", s=size, facecolors="none", edgecolors=COLORS["target"],
                                  linewidths=1.0, label=f"weight outside the pattern ({len(i)} keys)"))
    not_numbers = int(np.isnan(recovered).sum())
    if not_numbers:
        handles.append(Patch(color=COLORS["not_a_number"],
                             label=f"not a number: never written, NaN or inf ({not_numbers} weights)"))
    if handles:
        ax.legend(handles=handles, loc="lower left", fontsize=7)


def draw_error_by_offset(ax, view, case, fig):
    """|recovered - expected| with keys placed by offset j - i, so a wrong window edge is a vertical stripe."""
    N = len(view.error)
    cmap = plt.get_cmap("Reds").copy()
    cmap.set_bad("#eeeeee")
    extent = (view.offsets[0] - 0.5, view.offsets[-1] + 0.5, N - 0.5, -0.5)
    worst = max(np.nanmax(view.error, initial=0), np.finfo(float).eps)
    image = ax.imshow(view.error, cmap=cmap, vmin=0, vmax=worst, extent=extent, aspect="auto",
                      interpolation="nearest")
    if view.not_a_number.any():  # painted over the grey that means "outside the sequence"
        ax.imshow(np.ma.masked_where(~view.not_a_number, view.not_a_number), extent=extent,
                  cmap=ListedColormap([COLORS["not_a_number"]]), aspect="auto", interpolation="nearest")
    outline_cells(ax, view.allowed, COLORS["allowed"], x0=view.offsets[0])
    verdict = f"{'passed' if case['passed'] else 'FAILED'}: {case.get('summary', '')}"
    ax.set_title(f"|recovered − expected|: query i, key offset j − i\n{textwrap.fill(verdict, TITLE_WIDTH)}")
    ax.set_xlabel("key offset j − i (outlined: the window; grey: outside the sequence)")
    ax.set_ylabel("query i")
    ax.grid(False)
    fig.colorbar(image, ax=ax, shrink=0.7, label="absolute error of the weight")


def draw_error_profile(ax, view):
    """The worst error at each key offset, over the window's offsets shaded: which part of the window is wrong."""
    worst = np.nan_to_num(view.error, nan=0.0).max(axis=0)
    inside = view.offsets[view.allowed.any(axis=0)]
    if len(inside):
        ax.axvspan(inside.min() - 0.5, inside.max() + 0.5, color=COLORS["window_span"], label="window")
    ax.bar(view.offsets, worst, width=1.0, color=COLORS["target"], label="worst |error|")
    not_numbers = view.offsets[view.not_a_number.any(axis=0)]
    if len(not_numbers):
        ax.plot(not_numbers, np.zeros(len(not_numbers)), linestyle="none", marker="|", markersize=12,
                color=COLORS["not_a_number"], label="not a number")
    ax.set_xlim(view.offsets[0] - 0.5, view.offsets[-1] + 0.5)
    ax.set_xlabel("key offset j − i")
    ax.set_ylabel("worst |error|")
    ax.set_title("which part of the window is wrong: worst error at each offset")
    ax.legend(loc="upper left", fontsize=7)
    ax.grid(axis="x", visible=False)


def cell_scale(N):
    """1 for pictures of up to SMALL_PICTURE_N keys, smaller for larger ones, as their cells are."""
    return min(1.0, SMALL_PICTURE_N / N)


def outline_cells(ax, mask, color, x0=0):
    """Draws the edges between cells inside `mask` and cells outside it; cell (i, k) sits at x = x0 + k, y = i."""
    inside = np.pad(mask, 1, constant_values=False)
    segments = []
    for i, k in zip(*np.nonzero(mask)):
        x, y = x0 + k, i
        if not inside[i, k + 1]:  # the cell above
            segments.append([(x - 0.5, y - 0.5), (x + 0.5, y - 0.5)])
        if not inside[i + 2, k + 1]:  # below
            segments.append([(x - 0.5, y + 0.5), (x + 0.5, y + 0.5)])
        if not inside[i + 1, k]:  # left
            segments.append([(x - 0.5, y - 0.5), (x - 0.5, y + 0.5)])
        if not inside[i + 1, k + 2]:  # right
            segments.append([(x + 0.5, y - 0.5), (x + 0.5, y + 0.5)])
    width = max(THINNEST_OUTLINE, OUTLINE_WIDTH * cell_scale(len(mask)))
    ax.add_collection(LineCollection(segments, colors=color, linewidths=width))


def draw_bad_rows(ax, case, stage):
    """Failing output elements per query row of a failed correctness case."""
    if case is None:
        ax.set_axis_off()
        ax.text(0.5, 0.5, f"{stage['stage']}: no failed correctness case", ha="center", va="center",
                transform=ax.transAxes, color="grey")
        return
    bad = case["bad_per_query"]
    ax.bar(range(len(bad)), bad, width=1.0, color=COLORS["target"])
    ax.set_xlim(-0.5, len(bad) - 0.5)
    head_dim = f" (of D = {case['D']})" if "D" in case else ""
    ax.set_ylabel(f"wrong elements{head_dim}")
    ax.set_xlabel("query row i")
    shape = ", ".join(f"{name}={case[name]}" for name in ("B", "H", "N", "D") if name in case)
    ax.set_title(textwrap.fill(f"which query rows are wrong: correctness case '{case['name']}' ({case['pattern']}, "
                               f"{shape})", FOOTER_WIDTH // 2) + "\n" + case.get("summary", ""))
    ax.grid(axis="x", visible=False)


# ---------------------------------------------------------------------------------------------------
# The README's results block
# ---------------------------------------------------------------------------------------------------

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


def figure_caption(path):
    name = Path(path).name
    if name.endswith(GRADE_FIGURE_SUFFIX):
        return f"Errors of the grading run {name[:-len(GRADE_FIGURE_SUFFIX)]}.json"
    return FIGURE_CAPTIONS.get(name, Path(path).stem)


def readme_block(bench, figures, readme_path):
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
    images = [f'<img src="{link(p)}" alt="{figure_caption(p)}" width="49%">' for p in figures]
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


# ---------------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------------

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
        target = grade_figure_path(args.out, grade)
        if target in grade_figures:
            raise ResultError(f"{grade.name} and {grade_figures[target][0].name} would both be drawn as "
                              f"{target.name}: give the grade files different names")
        grade_figures[target] = (grade, pick_grade_stage(grade, args.stage))
    bench = merge_bench_files(bench_files) if bench_files else None
    swa = find_swa(args.swa)

    Path(args.out).mkdir(parents=True, exist_ok=True)
    use_house_style()
    written = []
    if bench is not None:
        written.append(draw_speedup_figure(bench, Path(args.out) / SPEEDUP_FIGURE))
        written.append(draw_time_figure(bench, Path(args.out) / TIME_FIGURE))
        written.append(draw_ladder_figure(bench, Path(args.out) / LADDER_FIGURE))
    else:
        say(f"skipped {SPEEDUP_FIGURE}, {TIME_FIGURE}, {LADDER_FIGURE}: no {BENCH_SCHEMA} file among the results")
    if swa is not None:
        written.append(draw_patterns_figure(swa, Path(args.out) / PATTERNS_FIGURE))
    else:
        say(f"skipped {PATTERNS_FIGURE}: no `swa` program (build one, e.g. `cmake --preset student && "
            "cmake --build --preset student`, or pass --swa PATH)")
    for target, (grade, stage) in grade_figures.items():
        drawn = draw_grade_figure(grade, stage, target)
        if drawn is not None:
            written.append(drawn)
    if readme is not None:
        rewrite_readme_block(readme, readme_block(bench, written, readme))
    return written


def main(argv=None):
    args = parse_args(argv)
    try:
        make_everything(args)
    except ResultError as error:
        print(f"make_plots: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
