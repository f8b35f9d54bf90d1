"""Figure 5, NAME_errors.png, one for each grade file NAME.json (swa-grade/1): for one stage, the weights
the window check recovered from the kernel next to the weights the reference gives, the error of each
weight placed by query i and key offset j - i (so a window edge that is off by one is a vertical stripe),
and how many output elements of each query row were wrong in a failed correctness case."""
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from .common import COLORS, FOOTER_WIDTH, TITLE_WIDTH, ResultError, plt, save, say

SUFFIX = "_errors.png"  # after the grade file's name: grade.json -> grade_errors.png
# How far the error map reaches past the keys that matter, in key positions, and the smallest weight
# outside the pattern that is marked as one (the recovered weights carry rounding noise).
OFFSET_MARGIN = 2
STRAY_WEIGHT_SHOWN = 1e-4
# Marks drawn over the cells keep their size up to SMALL_PICTURE_N keys and shrink with the cells above it.
SMALL_PICTURE_N = 40
STRAY_MARKER_SIZE = 14  # points², of the ring around a weight outside the pattern
OUTLINE_WIDTH, THINNEST_OUTLINE = 1.2, 0.5  # points, of the line around the pattern


def caption(path):
    return f"Errors of the grading run {Path(path).name[:-len(SUFFIX)]}.json"


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
    return Path(out) / (grade.path.stem + SUFFIX)


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


