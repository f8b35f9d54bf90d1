"""Figure roofline.png: each stage's useful TFLOP/s against its arithmetic intensity, under the GPU's roofs
(swa-bench/1, the shapes that fill the GPU).

Arithmetic intensity here is the useful work over the traffic no kernel can avoid: 4·D FLOPs per (i, j)
pair the pattern allows, over reading Q, K, V (fp16) and writing O (fp32) once, B·H·N·D·(3·2 + 4) bytes.
Every stage has the same at a shape; the height of its point is how close it comes to the roofs: memory
bandwidth × intensity, the CUDA cores' fp32 rate (stages 01-05) and the tensor cores' dense fp16 rate
(stages 06-07). The roofs are spec-sheet figures, by GPU name (PEAKS); a GPU without them is skipped.
"""
import numpy as np

from .bench import measured, series_colors, series_key, series_label
from .common import COLORS, plt, save

FILE = "roofline.png"
CAPTION = "Roofline: useful TFLOP/s against arithmetic intensity, per stage"
BYTES_PER_ELEMENT = 3 * 2 + 4  # Q, K, V in fp16 read once, O in fp32 written once
# Spec-sheet peaks, by a part of the GPU's name: (memory TB/s, fp32 CUDA-core TFLOP/s, fp16 dense
# tensor-core TFLOP/s). The first name that the benchmark's GPU name contains is used.
PEAKS = {
    "H200": (4.8, 67.0, 989.0),
    "H100 80GB HBM3": (3.35, 67.0, 989.0),
    "H100 PCIe": (2.0, 51.0, 756.0),
    "A100-SXM4-80GB": (2.04, 19.5, 312.0),
    "A100": (1.56, 19.5, 312.0),
}


def gpu_peaks(gpu):
    return next(((name, peaks) for name, peaks in PEAKS.items() if name in gpu), (None, None))


def points(bench):
    """(result, intensity in FLOP/byte, useful TFLOP/s) of every timed window run at a GPU-filling shape."""
    out = []
    for r in bench.results:
        window = measured(r, "window")
        if r["group"] != "fill" or window is None or "pairs_per_head" not in window:
            continue
        flops = 4 * r["D"] * window["pairs_per_head"] * r["B"] * r["H"]
        traffic = r["B"] * r["H"] * r["N"] * r["D"] * BYTES_PER_ELEMENT
        out.append((r, flops / traffic, window["useful_tflops"]))
    return out


def needs(inputs):
    if inputs.bench is None:
        return "no swa-bench/1 file among the results"
    gpus = {f.data["gpu"] for f in inputs.bench.files}
    unknown = sorted(g for g in gpus if gpu_peaks(g)[0] is None)
    if unknown:
        return f"no peak figures for {', '.join(unknown)} (add them to PEAKS in plots/swa_plots/fig_roofline.py)"
    if not points(inputs.bench):
        return "no timed window run at a shape that fills the GPU"
    return None


def draw(inputs, path):
    bench = inputs.bench
    name, (bandwidth, fp32, fp16) = gpu_peaks(bench.files[0].data["gpu"])
    found = points(bench)
    colors = series_colors(bench.results)
    keys = sorted({series_key(r) for r, _, _ in found})
    fig, ax = plt.subplots(figsize=(9, 5.5), constrained_layout=True)
    intensities = np.geomspace(1, 10 * max(x for _, x, _ in found), 200)
    for peak, label, style in ((fp32, "fp32 CUDA cores", "--"), (fp16, "fp16 tensor cores (dense)", "-")):
        ax.plot(intensities, np.minimum(bandwidth * intensities, peak), color=COLORS["bound"], linestyle=style,
                linewidth=1.2, label=f"roof: {bandwidth:g} TB/s × intensity, {label} {peak:g} TFLOP/s")
    for key in keys:
        xs = [x for r, x, _ in found if series_key(r) == key]
        ys = [y for r, _, y in found if series_key(r) == key]
        ax.scatter(xs, ys, color=colors[key], label=series_label(key, keys), zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (useful FLOPs per byte of Q, K, V read and O written once)")
    ax.set_ylabel("useful TFLOP/s")
    ax.legend(loc="upper left", fontsize=7)
    shapes = sorted({(r["B"], r["H"], r["N"], r["D"]) for r, _, _ in found})
    ax.set_title(f"Roofline of {name} (spec-sheet peaks): the stages at B, H, N, D = "
                 f"{', '.join('/'.join(map(str, s)) for s in shapes[:3])}{' ...' if len(shapes) > 3 else ''}\n"
                 f"{bench.provenance()}")
    return save(fig, path)
