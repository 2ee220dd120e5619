"""Drawing the planned plots (:mod:`biobench_core.formats._plots`) with matplotlib, as PNG and SVG bytes.

matplotlib is an optional extra (``pip install 'biobench-core[plots]'``); :func:`require_matplotlib` says so in one
line when it is missing. Figures are drawn on matplotlib's Agg canvas (no pyplot, no display, no global backend
change) and written reproducibly: the same plot gives the same bytes (a fixed ``svg.hashsalt``, no date in the
metadata); PNG at 100 dpi, at zlib's fastest level. Marks carry ids in the SVG (``set_gid``), so a reader, or a
test, can find and count them: ``points`` and ``intervals`` (point-and-interval charts), ``cells`` (heatmaps),
``curve-<i>`` and ``band-<i>`` (learning curves, one each per backbone), ``title`` and ``caption``.
"""

from __future__ import annotations

import io
import math
import textwrap
from typing import Any

from biobench_core.formats._plots import Plot

__all__ = ["PlotsUnavailable", "require_matplotlib", "render_plot", "SUFFIXES", "INSTALL"]

INSTALL = "pip install 'biobench-core[plots]'"
SUFFIXES = (".png", ".svg")
DPI = 100
#: A fixed hash salt (the SVG's ids), text kept as SVG text, and no glyph hinting (a fifth quicker to draw).
STYLE = {"svg.hashsalt": "biobench", "svg.fonttype": "none", "text.hinting": "no_hinting", "font.size": 8,
         "axes.labelsize": 8, "xtick.labelsize": 7, "ytick.labelsize": 7, "legend.fontsize": 6}
CAPTION_LINE = 0.15  # inches per caption line (7 pt text)
#: Cells past which a heatmap's numbers are not written in its cells (the colour bar still reads them).
ANNOTATE_MAX = 150
LABELLED_POINTS = 30  # a cost plot names its points up to this many


class PlotsUnavailable(RuntimeError):
    """matplotlib is not installed: the message names the extra to install."""


def require_matplotlib() -> None:
    """Raise :class:`PlotsUnavailable` (one line naming the package) when matplotlib cannot be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotsUnavailable(f"--plots needs matplotlib, which is not installed: {INSTALL}") from None


def _text_width(labels: list[str], size: float = 7) -> float:
    """Inches a column of ``labels`` needs at ``size`` pt (a rough average glyph width)."""
    return max((len(label) for label in labels), default=0) * size * 0.6 / 72


def _figure(plot: Plot, width: float, axes_height: float, left: float, bottom: float = 0.55,
            right: float = 0.25) -> tuple[Any, Any]:
    """A figure whose axes are ``axes_height`` inches tall with ``left``/``bottom``/``right`` margins, the plot's
    title above and its caption, wrapped, below."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    chars = max(40, int(width * 72 / (7 * 0.55)))
    lines = [wrapped for line in plot.caption for wrapped in textwrap.wrap(line, chars, subsequent_indent="  ")]
    top, caption = 0.35, CAPTION_LINE * len(lines) + 0.1
    height = top + axes_height + bottom + caption
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((left / width, (bottom + caption) / height, max(0.1, width - left - right) / width,
                       axes_height / height))
    # The title and the axis labels are placed, never laid out around the tick labels: that layout measures every
    # tick label again and, for 50 backbones, costs more than drawing the plot.
    fig.text(left / width, 1 - 0.1 / height, plot.title, fontsize=9, va="top", ha="left", gid="title")
    ax.xaxis.set_label_coords(0.5, -0.3 / axes_height)
    ax.yaxis.set_label_coords(-0.5 / max(0.1, width - left - right), 0.5)
    if lines:
        fig.text(0.1 / width, (caption - 0.05) / height, "\n".join(lines), fontsize=6.5, va="top", ha="left",
                 gid="caption", color="0.25")
    return fig, ax


def _row_labels(ax: Any, positions: Any, labels: list[str]) -> None:
    """Label rows at ``positions`` (data y) left of the axes: plain texts, not ticks, which cost several times as
    much to make and lay out (a tick is two lines, two texts and a grid line) and dominate a 50-backbone plot."""
    from matplotlib.transforms import blended_transform_factory

    ax.set_yticks([])
    where = blended_transform_factory(ax.transAxes, ax.transData)
    for y, label in zip(positions, labels):
        ax.text(-0.01, y, label, transform=where, ha="right", va="center", fontsize=7)


def _task(plot: Plot) -> Any:
    import numpy as np

    d = plot.data
    n = len(d["labels"])
    left = _text_width(d["labels"]) + 0.2
    fig, ax = _figure(plot, max(5.0, left + 4.0), max(1.0, 0.2 * n + 0.3), left)
    y = np.arange(n)[::-1]
    scores, lows, highs = (np.asarray(d[k], dtype=float) for k in ("scores", "lows", "highs"))
    has = ~(np.isnan(lows) | np.isnan(highs))
    ax.hlines(y[has], lows[has], highs[has], colors="0.35", linewidth=1.2, gid="intervals")
    colours = ["0.6" if m == "too few" else "C0" for m in d["marks"]]
    faces = [c if m in ("best", "tied") else "white" for c, m in zip(colours, d["marks"])]
    ax.scatter(scores, y, s=[42 if m == "best" else 22 for m in d["marks"]], c=faces, edgecolors=colours,
               linewidths=1.0, zorder=3, gid="points", marker="o")
    _row_labels(ax, y, d["labels"])
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel(d["metric"])
    ax.grid(axis="x", color="0.9")
    return fig


def _cost(plot: Plot) -> Any:
    import numpy as np

    d = plot.data
    fig, ax = _figure(plot, 6.0, 3.6, 0.7)
    x, y = np.asarray(d["costs"], dtype=float), np.asarray(d["means"], dtype=float)
    lows, highs = np.asarray(d["lows"], dtype=float), np.asarray(d["highs"], dtype=float)
    has = ~(np.isnan(lows) | np.isnan(highs))
    ax.vlines(x[has], lows[has], highs[has], colors="0.55", linewidth=1.0, gid="intervals")
    ax.scatter(x, y, s=20, c="C0", zorder=3, gid="points")
    if x.size and x.max() / x.min() > 10:
        ax.set_xscale("log")
    if len(x) <= LABELLED_POINTS:
        for label, xi, yi in zip(d["labels"], x, y):
            ax.annotate(label, (xi, yi), xytext=(3, 2), textcoords="offset points", fontsize=5.5, color="0.3")
    ax.set_xlabel(d["axis"])
    ax.set_ylabel("benchmark mean")
    ax.grid(color="0.9")
    return fig


def _heatmap(plot: Plot) -> Any:
    import numpy as np

    d = plot.data
    values = np.ma.masked_invalid(np.asarray(d["values"], dtype=float).reshape(len(d["rows"]), len(d["columns"])))
    n_rows, n_cols = values.shape
    left = _text_width(d["rows"]) + 0.2
    bottom = _text_width(d["columns"]) + 0.3
    width = min(30.0, max(4.5, left + 0.32 * n_cols + 1.2))
    fig, ax = _figure(plot, width, max(0.8, 0.2 * n_rows), left, bottom=bottom, right=1.0)
    from matplotlib.collections import PolyCollection

    rows, cols = np.nonzero(~np.ma.getmaskarray(values))  # an undefined or missing cell gets no mark at all
    squares = [((j, i), (j + 1, i), (j + 1, i + 1), (j, i + 1)) for i, j in zip(rows, cols)]
    mesh = PolyCollection(squares, array=values.data[rows, cols], cmap="viridis_r" if d["reverse"] else "viridis",
                          edgecolors="white", linewidths=0.3, gid="cells")
    ax.add_collection(mesh)
    ax.set_xticks(np.arange(n_cols) + 0.5, d["columns"], rotation=90)
    _row_labels(ax, np.arange(n_rows) + 0.5, d["rows"])
    ax.set_xlim(0, n_cols)
    ax.set_ylim(n_rows, 0)
    ax.tick_params(length=0)
    if values.count() and n_rows * n_cols <= ANNOTATE_MAX:
        middle = (values.min() + values.max()) / 2
        for (i, j), value in np.ndenumerate(values.filled(np.nan)):
            if not math.isnan(value):
                dark = (value > middle) if d["reverse"] else (value < middle)
                ax.text(j + 0.5, i + 0.5, d["format"].format(value), ha="center", va="center", fontsize=5.5,
                        color="white" if dark else "black")
    if values.count():
        bar = fig.colorbar(mesh, ax=ax, fraction=0.04, pad=0.02)
        bar.set_label(d["colour"])
        if d["reverse"]:  # ranks: whole numbers, 1 (the best) on top
            from matplotlib.ticker import MaxNLocator

            bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            bar.ax.invert_yaxis()
    return fig


def _curves(plot: Plot) -> Any:
    import numpy as np

    d = plot.data
    labels = [c["label"] for c in d["curves"]]
    right = _text_width(labels, 6) + 0.6
    fig, ax = _figure(plot, 4.5 + right, 3.2, 0.7, right=right)
    for i, curve in enumerate(d["curves"]):
        n = np.asarray(curve["n"], dtype=float)
        lows, highs = np.asarray(curve["lows"], dtype=float), np.asarray(curve["highs"], dtype=float)
        colour = f"C{i % 10}"
        ax.fill_between(n, lows, highs, color=colour, alpha=0.18, linewidth=0, gid=f"band-{i}")
        ax.plot(n, curve["scores"], marker="o", markersize=3, color=colour, linewidth=1.0, label=curve["label"],
                gid=f"curve-{i}")
    ax.set_xscale("log")
    ax.set_xticks(d["ticks"], [str(t) for t in d["ticks"]])
    ax.minorticks_off()
    ax.set_xlabel("n_train (training examples)")
    ax.set_ylabel(d["metric"])
    ax.grid(color="0.9")
    if labels:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


_DRAW = {"task": _task, "cost": _cost, "heatmap": _heatmap, "curve": _curves}


def render_plot(plot: Plot) -> dict[str, bytes]:
    """The plot as ``{".png": bytes, ".svg": bytes}``, drawn the same way every time."""
    import matplotlib

    with matplotlib.rc_context(STYLE):
        fig = _DRAW[plot.kind](plot)
        out = {}
        for suffix in SUFFIXES:
            buffer = io.BytesIO()
            if suffix == ".svg":
                fig.savefig(buffer, format="svg", metadata={"Date": None})
            else:  # zlib's fastest level: a few percent larger, several times quicker to write
                fig.savefig(buffer, format="png", pil_kwargs={"compress_level": 1})
            out[suffix] = buffer.getvalue()
    return out
