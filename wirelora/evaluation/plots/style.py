"""What every figure shares: the style of a named series, new axes, curves, event marks, point labels,
a clipped y-range and legends.

Labels and colours come from :mod:`wirelora.evaluation.names`, so a method looks the same in every figure.
Every series is visible: each curve has its own marker (spaced, staggered between curves), a curve that
runs on top of an earlier one is dashed, and the legend says which curves are identical or nearly so.
Event marks name the event on a top axis, clear of the curves. Figures are ``matplotlib.figure.Figure``
objects, not pyplot's: drawing many in a loop neither leaks (pyplot keeps every figure alive) nor needs a
display. ``STYLES``: ``screen`` (the default, titled) and ``paper`` (no titles: the caption says it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from wirelora.evaluation.names import color, label

__all__ = ["FIGSIZE", "FIGSIZE_CURVES", "FIGSIZE_PAIR", "STYLES", "series_style", "new_axes", "new_axes_pair",
           "curves", "mark_events", "clip_ylim", "label_points", "legend", "legend_outside",
           "apply_style"]  # fmt: skip

FIGSIZE = (6.0, 3.8)
FIGSIZE_CURVES = (7.6, 3.8)  # room for a legend right of the axes: many curves cross every corner
FIGSIZE_PAIR = (11.0, 3.8)
STYLES = ("screen", "paper")

MARKERS = ("o", "s", "^", "D", "P", "X", "<", ">", "*", "h")  # "v" marks clipped points (clip_ylim)
_MARKS_PER_CURVE = 8
_SAME_TOL = 0.01  # curves whose mean |difference| is under 1 % of the axes' span run on top of each other


def series_style(name: str) -> dict:
    """matplotlib keyword arguments for the series ``name``: its label, colour, and emphasis."""
    style: dict = {"label": label(name)}
    if color(name) is not None:
        style["color"] = color(name)
    if name in ("retrain", "optimum"):
        style["linestyle"] = "--"
    if name in ("proposed", "full", "convex"):
        style["linewidth"] = 2.2
        style["zorder"] = 5
    return style


def new_axes(ax: Axes | None, figsize=FIGSIZE) -> tuple[Figure, Axes]:
    """``ax`` and its figure, or a new figure with one axes."""
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def new_axes_pair(axes: Sequence[Axes] | None) -> tuple[Figure, Sequence[Axes]]:
    """``axes`` (two of them) and their figure, or a new figure with two side by side."""
    if axes is not None:
        if len(axes) != 2:
            raise ValueError(f"axes: expected 2 axes, got {len(axes)}")
        return axes[0].figure, axes
    fig = Figure(figsize=FIGSIZE_PAIR, layout="constrained")
    return fig, fig.subplots(1, 2)


def curves(
    ax: Axes, series: Mapping[str, Sequence[float]], x: Sequence[float] | None = None, *, bridge: bool = False
) -> None:
    """One line per entry of ``series`` ({name: [n]}) over ``x`` ([n]; default 0..n-1), styled by name.

    Each curve gets a marker (MARKERS, in order) every n/8 points, staggered so that markers of coinciding
    curves do not hide each other; a curve within 1 % of the span of an earlier one is dashed (dotted,
    dash-dot for a third, ...), and the legend gets a line naming identical (``=``) and nearly identical
    (``≈``) curves. A NaN is a gap in the line; with ``bridge`` the line joins the finite points around it
    (for rounds that were not evaluated, ``trainer.eval_every`` > 1).
    """
    if not series:
        raise ValueError("series: nothing to plot (empty mapping)")
    ys = {}
    for name, values in series.items():
        y = np.asarray(values, dtype=float)
        xs = np.arange(len(y)) if x is None else np.asarray(x, dtype=float)
        if xs.shape != y.shape:
            raise ValueError(f"{name}: {y.shape[0]} values for {xs.shape[0]} x positions")
        ys[name] = (xs, y)
    finite = np.concatenate([y[np.isfinite(y)] for _, y in ys.values()] + [np.zeros(0)])
    span = float(np.ptp(finite)) if finite.size else 0.0
    dashes = ("--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))
    notes, drawn = [], []
    for i, (name, (xs, y)) in enumerate(ys.items()):
        style = series_style(name)
        ok = np.isfinite(y) if bridge else np.ones(y.shape, dtype=bool)
        n = int(ok.sum())
        every = max(1, n // _MARKS_PER_CURVE)
        style.setdefault("marker", MARKERS[i % len(MARKERS)])
        style.setdefault("markersize", 4)
        style.setdefault("markevery", (min((i * every) // max(len(ys), 1), n - 1) if n else 0, every))
        twins = [(other, kind) for other in drawn if (kind := _coincide(ys[other][1], y, span))]
        if twins and "linestyle" not in style:
            style["linestyle"] = dashes[(len(twins) - 1) % len(dashes)]
        for other, kind in twins:
            notes.append(f"{label(name)} {kind} {label(other)}")
        ax.plot(xs[ok], y[ok], **style)
        drawn.append(name)
    for note in notes:  # an entry without a handle: the legend reads "A = B (identical)"
        same = " = " in note
        ax.plot(
            [], [], linestyle="none", label=note + (" (identical)" if same else "\n(within 1 % of the range)")
        )


def _coincide(a: np.ndarray, b: np.ndarray, span: float) -> str | None:
    """ "=" if the curves are identical, "≈" if their mean |difference| is within 1 % of ``span``."""
    if a.shape != b.shape:
        return None
    both = np.isfinite(a) & np.isfinite(b)
    if not both.any() or not np.array_equal(np.isfinite(a), np.isfinite(b)):
        return None
    if np.array_equal(a[both], b[both]):
        return "="
    return "≈" if np.mean(np.abs(a[both] - b[both])) <= _SAME_TOL * max(span, 1e-300) else None


def mark_events(ax: Axes, events: Sequence[Sequence]) -> None:
    """A dotted vertical line at each event round, named on a top axis (clear of the curves; events closer
    than 12 % of the x-range alternate between two rows). events : [(round, text)]."""
    if not events:
        return
    for round_, _ in events:
        ax.axvline(float(round_), color="0.35", linestyle=":", linewidth=1.0, zorder=1)
    lo, hi = ax.get_xlim()
    ticks, labels, last, row = [], [], None, 0
    for round_, text in sorted(events, key=lambda e: float(e[0])):
        pos = float(round_)
        row = 1 - row if last is not None and (pos - last) < 0.12 * (hi - lo) else 0
        ticks.append(pos)
        labels.append(f"{text}\n" if row else str(text))  # a trailing line lifts the label one row
        last = pos
    top = ax.secondary_xaxis("top")
    top.set_xticks(ticks, labels=labels)
    top.tick_params(axis="x", labelsize=7, colors="0.25", length=3, pad=1)


def clip_ylim(
    ax: Axes, series: Mapping[str, Sequence[float]], *, lower: float | None = None, unit: str = ""
) -> None:
    """Keep the y-range above ``lower`` when some values dip below it (one outlier must not flatten every
    other curve): the clipped points are drawn as ▼ on the bottom edge in their series' colour, and the
    legend names each clipped series' minimum."""
    if lower is None:
        return
    mins = {n: float(np.nanmin(np.asarray(v, dtype=float))) for n, v in series.items() if len(v)}
    clipped = {n: m for n, m in mins.items() if m < lower}
    if not clipped:
        return
    top = max(float(np.nanmax(np.asarray(v, dtype=float))) for v in series.values() if len(v))
    pad = 0.04 * (top - lower)
    ax.set_ylim(lower - pad, top + pad)
    for line in ax.get_lines():
        name = next((n for n in clipped if line.get_label() == label(n)), None)
        if name is None:
            continue
        xs, y = np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)
        below = y < lower
        ax.plot(xs[below], np.full(below.sum(), lower - pad), linestyle="none", marker="v", markersize=5,
                color=line.get_color(), clip_on=False, zorder=6)  # fmt: skip
    lines = "".join(f"\n  {label(n)}: min {_num(m)}{unit}" for n, m in clipped.items())
    ax.plot([], [], linestyle="none", marker="v", color="0.3", label=f"below {_num(lower)}{unit}:{lines}")


def _num(value: float) -> str:
    return f"{value:.0f}".replace("-", "−")  # the typographic minus, as on the axis


def label_points(ax: Axes, points: Mapping[str, tuple[float, float]], *, fontsize: float = 8) -> None:
    """Write each label beside its own point: points whose markers overlap share one label ("A = B" for
    the same point, "A ≈ B" for nearly), and each label takes the first of eight positions around its
    point that overlaps no other label or point and stays inside the axes. Call it last: it measures the
    laid-out figure. points : {label: (x, y)} in data coordinates."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if ax.figure.canvas is None or not hasattr(ax.figure.canvas, "get_renderer"):
        FigureCanvasAgg(ax.figure)
    ax.figure.draw_without_rendering()  # the layout first: label positions are measured in pixels
    renderer = ax.figure.canvas.get_renderer()
    to_px = ax.transData.transform
    groups: list[tuple[list[str], np.ndarray]] = []
    exact: dict[str, tuple[float, float]] = {n: tuple(map(float, p)) for n, p in points.items()}
    box = ax.get_window_extent(renderer)
    near = 0.012 * max(box.width, box.height)  # markers that overlap
    for name, (x, y) in points.items():
        p = to_px((x, y))
        for names, q in groups:
            if np.hypot(*(p - q)) < near:
                names.append(name)
                break
        else:
            groups.append(([name], p))
    taken = [(q[0] - 5, q[1] - 5, q[0] + 5, q[1] + 5) for _, q in groups]  # the markers
    candidates = [(7, 0, "left", "center"), (-7, 0, "right", "center"), (0, 7, "center", "bottom"),
                  (0, -7, "center", "top"), (6, 6, "left", "bottom"), (-6, 6, "right", "bottom"),
                  (6, -6, "left", "top"), (-6, -6, "right", "top")]  # fmt: skip
    for names, q in groups:
        same = all(exact[n] == exact[names[0]] for n in names)
        text = (" = " if same else " ≈ ").join(names)
        for dx, dy, ha, va in candidates:
            t = ax.annotate(text, ax.transData.inverted().transform(q), xytext=(dx, dy),
                            textcoords="offset points", ha=ha, va=va, fontsize=fontsize)  # fmt: skip
            bb = t.get_window_extent(renderer)
            rect = (bb.x0, bb.y0, bb.x1, bb.y1)
            inside = box.x0 <= bb.x0 and bb.x1 <= box.x1 and box.y0 <= bb.y0 and bb.y1 <= box.y1
            if inside and not any(_overlap(rect, o) for o in taken):
                break
            t.remove()
        else:  # nowhere free: the first position, drawn anyway
            dx, dy, ha, va = candidates[0]
            t = ax.annotate(text, ax.transData.inverted().transform(q), xytext=(dx, dy),
                            textcoords="offset points", ha=ha, va=va, fontsize=fontsize)  # fmt: skip
            bb = t.get_window_extent(renderer)
            rect = (bb.x0, bb.y0, bb.x1, bb.y1)
        taken.append(rect)


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def apply_style(fig: Figure, style: str = "screen") -> Figure:
    """``paper``: drop every title (the paper's caption names the figure); ``screen``: as drawn."""
    if style not in STYLES:
        raise ValueError(f"style={style!r}: must be one of {', '.join(STYLES)}")
    if style == "paper":
        for ax in fig.axes:
            ax.set_title("")
        if fig._suptitle is not None:
            fig._suptitle.set_text("")
    return fig


def legend_outside(ax: Axes) -> None:
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def legend(ax: Axes, **kwargs) -> None:
    kwargs.setdefault("fontsize", 8)
    kwargs.setdefault("frameon", False)
    ax.legend(**kwargs)
