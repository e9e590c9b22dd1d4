"""Adapter figures: what a leave leaves behind (independent vs slotted bases) and learning a joiner (its own
orthogonal block vs shared blocks)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from wirelora.evaluation.plots.style import curves, legend, mark_events, new_axes_pair, series_style

__all__ = ["leakage", "join"]


def leakage(
    rank_over_dim: Sequence[float],
    overlap_by_basis: Mapping[str, Sequence[float]],
    residual_by_basis: Mapping[str, Sequence[float]],
    *,
    theory: Sequence[float],
    width: int | None = None,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """Basis overlap (left) and the leaver's residual after a leave (right) vs r/d, per basis kind.

    rank_over_dim : [n]; overlap_by_basis : {basis: [n]} measured mean ‖A_iᵀA_j‖_F²;
    residual_by_basis : {basis: [n]} measured ‖ΔW·A_u‖_F / ‖ΔW‖_F after the leave; theory : [n]
    Lemma 1's r²/d; width : d, named in the title. Exact zeros (slotted) cannot sit on a log axis: they are
    stated in the legend instead; slotted bases are exactly orthogonal, so what they show is float rounding.
    """
    fig, (left, right) = new_axes_pair(axes)
    x = np.asarray(rank_over_dim, dtype=float)
    for ax_, series in ((left, overlap_by_basis), (right, residual_by_basis)):
        for name, values in series.items():
            y = np.asarray(values, dtype=float)
            style = series_style(name)
            if np.all(y == 0):
                style["label"] += " (exactly 0: not drawn on log axis)"
            ax_.plot(x, np.where(y > 0, y, np.nan), marker="o", markersize=4, **style)
        ax_.set_xscale("log")
        ax_.set_yscale("log")
        ax_.set_xlabel("r / d")
    left.plot(x, np.asarray(theory, dtype=float), color="black", linestyle="--", label=r"Lemma 1: $r^2/d$")
    left.set_ylabel(r"overlap $\|A_i^\top A_j\|_F^2$")
    left.set_title("basis overlap between two devices")
    right.set_ylabel(r"residual $\|\Delta W A_u\|_F / \|\Delta W\|_F$ after leave")
    right.set_title("leaver's contribution left after the projection")
    legend(left)
    legend(right)
    if width is not None:
        fig.suptitle(f"one {width}×{width} layer, device 0 leaves", fontsize=9)
    if "slotted" in overlap_by_basis:
        for ax_ in (left, right):
            ax_.text(0.98, 0.03, "slotted: float rounding only", transform=ax_.transAxes, ha="right",
                     fontsize=7, color="tab:red")  # fmt: skip
    return fig


def join(
    rounds: Sequence[float],
    join_loss_by_arm: Mapping[str, Sequence[float]],
    retain_loss_by_arm: Mapping[str, Sequence[float]],
    *,
    events: Sequence[Sequence] = (),
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """Join-data loss (left) and retain loss (right) around join events, per arm (e.g. orthogonal vs shared).

    rounds : [T]; join_loss_by_arm, retain_loss_by_arm : {arm: [T]} (NaN before the joiner exists);
    events : [(round, text)].
    """
    fig, (left, right) = new_axes_pair(axes)
    curves(left, join_loss_by_arm, rounds)
    curves(right, retain_loss_by_arm, rounds)
    for ax_, what in ((left, "joiners' data"), (right, "retained devices' data")):
        mark_events(ax_, events)
        ax_.set_xlabel("training round")
        ax_.set_ylabel(f"loss on {what} (nats)")
        legend(ax_)
    left.set_title("learning the joiner")
    right.set_title("keeping what the others learned")
    return fig
