"""Figure pytorch.png: your stages beside PyTorch's FlexAttention and SDPA (flash, cuDNN, boolean band
mask), from `python -m swa_torch.bench --json FILE` (python/, schema swa-torch-bench/1).

Left, the exercise's single-head shapes, where latency decides: median time (lower is better). Right, the
shapes that fill the GPU: useful TFLOP/s, 4·D FLOPs per (i, j) pair the pattern allows, the same useful
work for every method (full-attention SDPA does more work than it is credited with). A method that was not
timed (its check failed, it does not support the shape, or it cannot run there) is named where its bar
would be, with its status.
"""
import numpy as np

from .common import GROUP_TITLES, GROUPS, format_ms, plt, save

FILE = "pytorch.png"
CAPTION = "Your stages against PyTorch: FlexAttention and SDPA"
LIBRARY_ORDER = ["flex", "sdpa_flash", "sdpa_cudnn", "sdpa_band"]  # after the stages


def needs(inputs):
    return None if inputs.torch else "no swa-torch-bench/1 file among the results (python -m swa_torch.bench --json)"


def methods(results):
    """The bars of a shape, in order: the stages by name, then the libraries."""
    stages = sorted({r["name"] for r in results if r["method"] == "stage"})
    libraries = sorted({(r["method"], r["name"]) for r in results if r["method"] != "stage"},
                       key=lambda m: LIBRARY_ORDER.index(m[0]) if m[0] in LIBRARY_ORDER else len(LIBRARY_ORDER))
    return stages + [name for _, name in libraries]


def draw(inputs, path):
    results = [r for f in inputs.torch for r in f.data["results"]]
    bars = methods(results)
    palette = plt.get_cmap("tab10")
    colors = {name: palette(k % palette.N) for k, name in enumerate(bars)}
    fig, axes = plt.subplots(1, len(GROUPS), figsize=(14, 5.2), constrained_layout=True, squeeze=False)
    for ax, group in zip(axes[0], GROUPS):
        draw_group(ax, [r for r in results if r["group"] == group], group, bars, colors)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[name]) for name in bars]
    fig.legend(handles, bars, loc="outside lower center", ncol=min(len(bars), 6), frameon=False)
    runs = "; ".join(sorted({f"{f.data['gpu']}, {f.data['date'][:10]}, torch {f.data['torch']}, "
                             f"{f.data['variant']} stages, {f.data['pattern']}" for f in inputs.torch}))
    fig.suptitle(f"The kit's stages beside PyTorch (median GPU time, L2 flushed, every output checked)\n{runs}")
    return save(fig, path)


def draw_group(ax, results, group, bars, colors):
    time_axis = group == "exercise"
    shapes = sorted({(r["B"], r["H"], r["N"], r["D"]) for r in results})
    ax.set_title(GROUP_TITLES[group] + (": time (lower is better)" if time_axis else ": useful TFLOP/s"))
    if not shapes:
        ax.text(0.5, 0.5, "nothing measured", transform=ax.transAxes, ha="center", color="grey")
        return
    width = 0.8 / len(bars)
    for s, shape in enumerate(shapes):
        here = {r["name"]: r for r in results if (r["B"], r["H"], r["N"], r["D"]) == shape}
        for k, name in enumerate(bars):
            x = s - 0.4 + (k + 0.5) * width
            r = here.get(name)
            if r is None:
                continue
            if r["status"] != "ok":
                ax.text(x, 0.02, r["status"].replace("_", " "), rotation=90, ha="center", va="bottom",
                        fontsize=6, color="grey", transform=ax.get_xaxis_transform())
                continue
            value = r["median_ms"] if time_axis else r["useful_tflops"]
            ax.bar(x, value, width, color=colors[name])
            label = format_ms(value) if time_axis else f"{value:.0f}" if value >= 10 else f"{value:.1f}"
            ax.text(x, value, label, ha="center", va="bottom", fontsize=6, rotation=90 if time_axis else 0)
    ax.set_xticks(np.arange(len(shapes)))
    ax.set_xticklabels([f"B={b} H={h}\nN={n} D={d}" for b, h, n, d in shapes], fontsize=7)
    ax.set_ylabel("median time (ms)" if time_axis else "useful TFLOP/s")
    if time_axis:
        ax.set_yscale("log")
    ax.grid(axis="x", visible=False)
