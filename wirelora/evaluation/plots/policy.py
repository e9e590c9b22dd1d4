"""Policy figures: the correction action the dominant-residual rule picks, by regime."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from wirelora.evaluation.names import ACTION_COLORS, label
from wirelora.evaluation.plots.style import new_axes

__all__ = ["regimes"]


def regimes(
    spectral_gap: Sequence[float],
    heterogeneity: Sequence[float],
    action: Sequence[Sequence[str]],
    *,
    dominant: Sequence[Sequence[str]] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The action the dominant-residual policy picks over a grid of spectral gap × heterogeneity.

    spectral_gap : [nx] (1 − ρ); heterogeneity : [ny] (ζ²); action : [ny][nx] the chosen action's name;
    dominant : [ny][nx] the name of the dominant residual (``loc``, ``con``, ``het``), written in each cell by
    its label (R_loc, ...).
    """
    fig, ax = new_axes(ax, figsize=(6.5, 4.6))
    act = np.asarray(action, dtype=object)
    nx, ny = len(spectral_gap), len(heterogeneity)
    if act.shape != (ny, nx):
        raise ValueError(
            f"action: expected shape ({ny}, {nx}) for [heterogeneity, spectral_gap], got {act.shape}"
        )
    names = sorted(set(act.ravel().tolist()))
    codes = np.vectorize(names.index)(act)  # [ny, nx] category index per cell
    # one colour per action in every regimes figure; unknown names take the spare colours in order
    spare = iter(["tab:blue", "tab:red", "tab:brown", "tab:pink", "tab:olive"])
    cmap = ListedColormap([ACTION_COLORS.get(n) or next(spare) for n in names])
    norm = BoundaryNorm(np.arange(len(names) + 1) - 0.5, len(names))
    ax.imshow(codes, origin="lower", cmap=cmap, norm=norm, aspect="auto")
    if dominant is not None:
        dom = np.asarray(dominant, dtype=object)
        for iy in range(ny):
            for ix in range(nx):
                ax.text(ix, iy, label(str(dom[iy, ix])), ha="center", va="center", fontsize=7)
    ax.set_xticks(range(nx), [f"{v:.2g}" for v in spectral_gap], fontsize=8)
    ax.set_yticks(range(ny), [f"{v:.2g}" for v in heterogeneity], fontsize=8)
    ax.set_xlabel(r"spectral gap $1-\rho$ (mixing quality)")
    ax.set_ylabel(r"heterogeneity $\zeta^2$")
    ax.set_title("chosen action (colour) and dominant residual (text)")
    ax.legend(
        handles=[Patch(color=cmap(i), label=n) for i, n in enumerate(names)],
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
    )
    return fig
