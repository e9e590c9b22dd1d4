"""What every figure shares: the style of a named series, new axes, curves, event marks and legends.

Labels and colours come from :mod:`wirelora.evaluation.names`, so a method looks the same in every figure.
Figures are ``matplotlib.figure.Figure`` objects, not pyplot's: drawing many in a loop neither leaks (pyplot
keeps every figure alive) nor needs a display.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from wirelora.evaluation.names import color, label

__all__ = ["FIGSIZE", "FIGSIZE_CURVES", "FIGSIZE_PAIR", "series_style", "new_axes", "new_axes_pair",
           "curves", "mark_events", "legend", "legend_outside"]  # fmt: skip

FIGSIZE = (6.0, 3.8)
FIGSIZE_CURVES = (7.6, 3.8)  # room for a legend right of the axes: many curves cross every corner
FIGSIZE_PAIR = (11.0, 3.8)


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


def curves(ax: Axes, series: Mapping[str, Sequence[float]], x: Sequence[float] | None = None) -> None:
    """One line per entry of ``series`` ({name: [n]}) over ``x`` ([n]; default 0..n-1), styled by name."""
    if not series:
        raise ValueError("series: nothing to plot (empty mapping)")
    for name, values in series.items():
        y = np.asarray(values, dtype=float)
        xs = np.arange(len(y)) if x is None else np.asarray(x, dtype=float)
        if xs.shape != y.shape:
            raise ValueError(f"{name}: {y.shape[0]} values for {xs.shape[0]} x positions")
        ax.plot(xs, y, **series_style(name))


def mark_events(ax: Axes, events: Sequence[Sequence]) -> None:
    """Vertical lines at each event round, labelled at the top of the axes. events : [(round, text)]."""
    top = blended_transform_factory(ax.transData, ax.transAxes)
    for round_, text in events:
        ax.axvline(float(round_), color="0.35", linestyle=":", linewidth=1.0, zorder=1)
        ax.text(
            float(round_),
            0.98,
            f" {text}",
            transform=top,
            rotation=90,
            va="top",
            ha="left",
            fontsize=7,
            color="0.25",
        )


def legend_outside(ax: Axes) -> None:
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def legend(ax: Axes, **kwargs) -> None:
    kwargs.setdefault("fontsize", 8)
    kwargs.setdefault("frameon", False)
    ax.legend(**kwargs)
