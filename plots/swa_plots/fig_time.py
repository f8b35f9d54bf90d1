"""Figure 2, time_vs_n.png: time against N on log-log axes, the window solid and full attention dashed,
with lines of slope 2 (O(N²)) and slope 1 (O(N·W) with W fixed) to compare against (swa-bench/1)."""
import numpy as np
from matplotlib.lines import Line2D

from .bench import describe_shapes, group_results, measured, series, series_colors, series_label
from .common import COLORS, GROUP_TITLES, GROUPS, plt, save, say_nothing_measured, sequence_length_axis

FILE = "time_vs_n.png"
CAPTION = "Time against N: full attention against the sliding window"


def needs(inputs):
    return None if inputs.bench is not None else "no swa-bench/1 file among the results"


def draw(inputs, path):
    return draw_time_figure(inputs.bench, path)


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


