"""Figure 3, stage_ladder.png: useful TFLOP/s of each stage at a shape that fills the GPU, every stage the
results hold (01 to 07 as they come), the window run beside the full-attention run (swa-bench/1)."""
import numpy as np
from matplotlib.patches import Patch

from .bench import describe_shapes, measured, series_colors, series_key, series_label
from .common import format_ms, plt, save

FILE = "stage_ladder.png"
CAPTION = "The stage ladder: useful TFLOP/s per stage"
# The stage ladder is drawn at a shape that fills the GPU: (B, H, N).
LADDER_SHAPE = (4, 16, 4096)


def needs(inputs):
    return None if inputs.bench is not None else "no swa-bench/1 file among the results"


def draw(inputs, path):
    return draw_ladder_figure(inputs.bench, path)


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


