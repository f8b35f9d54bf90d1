"""Figure 4, patterns.png: the attention patterns as `swa pattern` prints them, so the pictures come from
the kit's own definitions. With tiles, full key tiles are green, partial ones orange, and the key tiles
one query tile visits are outlined in red.

The panels are whatever plots/samples/swa-pattern/ holds: one file per picture, named SPEC-N<n>-t<tile>.txt
(":" and "," of the spec written "_"), holding what `swa pattern SPEC -N n [--tiles t]` prints; its first
line names the spec. A new pattern gets its panel when its file is added there
(plots/samples/make_samples.py writes them). The figure is drawn with a built `swa` when there is one
(every panel asked of it again), else from those saved outputs.
"""
import math
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from matplotlib.patches import Patch, Rectangle

from . import common
from .common import COLORS, ResultError, plt, save

FILE = "patterns.png"
CAPTION = "Attention patterns and the key tiles a query tile visits"
PANELS_DIR = common.SAMPLES_DIR / "swa-pattern"
PANEL_FILE = re.compile(r"^(?P<name>.+)-N(?P<N>\d+)-t(?P<tile>\d+)\.txt$")
SWA_TIMEOUT_S = 30
BRACKET_GAP = 0.4  # between the picture and the bar that marks the query tile, in cells
COLUMNS = 3

# What a panel's title says, by spec, else by the pattern's family (the spec's first word), else the spec;
# and which query tile's visits to outline (else the middle one). The order: these families first.
SPEC_NOTES = {"global:2:0,9": "global + local: tile 2 holds global position 9",
              "adaptive:0:4": "a window per query, drawn from [0, 4]"}
FAMILY_NOTES = {"sliding": "sliding window", "causal": "causal sliding window",
                "dilated": "dilated window (Longformer)", "global": "global + local",
                "adaptive": "a window per query"}
QUERY_TILES = {"sliding:3": 1, "causal:3": 2, "dilated:1:4": 1, "global:2:0,9": 2, "adaptive:0:4": 2}


@dataclass(frozen=True)
class PatternPanel:
    """One picture: the pattern, N, the tile size (0: no tiles), the query tile whose visits are outlined
    (None: none), and the title's note."""
    spec: str
    N: int
    tile: int
    query_tile: int | None
    note: str


def sample_name(spec, N, tile):
    return f"{spec.replace(':', '_').replace(',', '_')}-N{N}-t{tile}.txt"


def pattern_panels(folder=None):
    """The panels of the saved outputs in `folder` (default PANELS_DIR), the exercise's picture first."""
    folder = Path(folder or PANELS_DIR)
    panels = []
    for path in sorted(folder.glob("*.txt")):
        match = PANEL_FILE.match(path.name)
        lines = path.read_text().splitlines()
        if not match or not lines or ", N = " not in lines[0]:
            raise ResultError(f"{common.display_path(path)}: not a saved `swa pattern` output named "
                              "SPEC-N<n>-t<tile>.txt whose first line names the pattern")
        spec, N, tile = lines[0].split(", N = ")[0], int(match["N"]), int(match["tile"])
        family = spec.split(":")[0]
        if tile == 0:
            note = "the exercise's picture" if family == "sliding" else "the pattern"
        else:
            note = SPEC_NOTES.get(spec, FAMILY_NOTES.get(family, spec))
        query_tile = QUERY_TILES.get(spec, math.ceil(N / tile) // 2) if tile else None
        panels.append(PatternPanel(spec, N, tile, query_tile, note))
    order = list(FAMILY_NOTES)
    return sorted(panels, key=lambda p: (p.tile != 0, order.index(p.spec.split(":")[0])
                                         if p.spec.split(":")[0] in order else len(order), p.spec, p.N))


def needs(inputs):
    if inputs.swa is None:
        return ("no `swa` program (build one, e.g. `cmake --preset student && cmake --build --preset student`, "
                "or pass --swa PATH)")
    return None


def draw(inputs, path):
    return draw_patterns_figure(inputs.swa, path)


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
    for candidate in sorted(common.REPO_ROOT.glob("build/*/swa")):
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
    panels = pattern_panels()
    pictures = [run_swa_pattern(swa, p.spec, p.N, p.tile) for p in panels]
    columns = COLUMNS
    rows = -(-len(pictures) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 4.5 * rows), constrained_layout=True,
                             squeeze=False)
    for ax, picture, panel in zip(axes.flat, pictures, panels):
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


