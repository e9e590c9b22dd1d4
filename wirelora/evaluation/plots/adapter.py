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
    x = np.asarray(rounds, dtype=float)
    first = [x[np.isfinite(np.asarray(v, dtype=float))] for v in join_loss_by_arm.values()]
    first = min((f[0] for f in first if f.size), default=x[0])
    if first > x[0]:  # the panels compare the same rounds: say why the left one starts empty
        left.axvspan(x[0], first, color="0.93", zorder=0)
        left.text((x[0] + first) / 2, 0.5, "no joiner yet", transform=left.get_xaxis_transform(),
                  ha="center", va="center", rotation=90, fontsize=8, color="0.45")  # fmt: skip
    for ax_, what in ((left, "joiners' data"), (right, "retained devices' data")):
        ax_.set_xlim(x[0], x[-1])  # one x-range for both panels
        mark_events(ax_, events)
        ax_.set_xlabel("training round")
        ax_.set_ylabel(f"loss on {what} (nats)")
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=8, frameon=False)
    left.set_title("learning the joiner")
    right.set_title("keeping what the others learned")
    return fig
