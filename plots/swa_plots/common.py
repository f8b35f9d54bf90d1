"""What every figure shares: where things are, the exercise's numbers, colours, messages, the house style."""
import sys
from pathlib import Path

try:
    import matplotlib

    matplotlib.use("Agg")  # files only, no window: works on a machine without a display
    import matplotlib.pyplot as plt
except ImportError as missing:
    sys.exit(f"make_plots: the Python package '{missing.name}' is missing: "
             "python3 -m pip install -r plots/requirements.txt")

PLOTS_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = PLOTS_DIR.parent
DEFAULT_RESULTS = PLOTS_DIR / "results"
DEFAULT_FIGURES = PLOTS_DIR / "figures"
DEFAULT_README = REPO_ROOT / "README.md"
SCHEMA_DIR = PLOTS_DIR / "schemas"
SAMPLES_DIR = PLOTS_DIR / "samples"

# The exercise: one head (B = H = 1), sliding:128, D = 64, and the speedup over full attention each
# exercise size must reach.
EXERCISE_PATTERN = "sliding:128"
EXERCISE_HEAD_DIM = 64
EXERCISE_SPEEDUP_TARGETS = {512: 1.7, 1024: 2.5, 2048: 3.2}

# The benchmark's two groups of shapes (grader/bench.h), in the order the figures show them.
GROUPS = ["exercise", "fill"]
GROUP_TITLES = {"exercise": "exercise shapes: one head (B = H = 1)",
                "fill": "shapes that fill the GPU (many heads)"}

DPI = 150
TITLE_WIDTH = 60  # characters of a grader's summary per line of a panel title
FOOTER_WIDTH = 200  # characters of the grader's feedback per line under figure 5

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


def format_ms(ms):
    """Three or four significant digits: 0.0309, 0.376, 3.414, 51.03, 313.9."""
    decimals = 4 if ms < 0.1 else 3 if ms < 10 else 2 if ms < 100 else 1
    return f"{ms:.{decimals}f}"


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
