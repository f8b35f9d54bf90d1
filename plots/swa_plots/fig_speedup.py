"""Figure 1, speedup.png: the speedup of the sliding window over full attention against N, one line per
stage, with the exercise's targets and the tile-count bound as reference lines (swa-bench/1)."""
from matplotlib.ticker import FuncFormatter, LogLocator

from .bench import group_results, series, series_colors, series_label, describe_shapes
from .common import (COLORS, EXERCISE_HEAD_DIM, EXERCISE_PATTERN, EXERCISE_SPEEDUP_TARGETS, GROUP_TITLES, GROUPS,
                     plt, save, say_nothing_measured, sequence_length_axis)

FILE = "speedup.png"
CAPTION = "Speedup over full attention against N, per stage"


def needs(inputs):
    return None if inputs.bench is not None else "no swa-bench/1 file among the results"


def draw(inputs, path):
    return draw_speedup_figure(inputs.bench, path)


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


