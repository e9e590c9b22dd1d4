"""The figure of one run directory (``summary.png`` of ``wirelora run``): losses and consensus distance."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

__all__ = ["summary"]


def summary(history) -> Figure:
    """Consensus retain/join/forget loss (and the oracle's, dashed) and consensus distance per round, events
    marked. history : :class:`wirelora.learning.history.History`."""
    rounds = history.series("round")
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax, bx = fig.subplots(1, 2)
    evaluated = np.isfinite(history.series("retain_loss"))  # eval_every > 1 leaves rounds without losses
    for key, colour in (("retain", "C0"), ("join", "C1"), ("forget", "C3")):
        y = history.series(f"{key}_loss")[evaluated]  # NaN (a break in the line) where the set does not exist
        if np.isfinite(y).any():
            ax.plot(rounds[evaluated], y, color=colour, label=f"{key} (consensus)")
        yo = history.series(f"oracle_{key}_loss")
        if np.isfinite(yo).any():
            ax.plot(rounds, yo, color=colour, ls="--", lw=1, label=f"{key} (oracle)")
    bx.semilogy(rounds, history.series("consensus_distance") + 1e-12, color="C2")
    for r in history.rounds:
        if r.get("event"):
            for a in (ax, bx):
                a.axvline(r["round"], color="0.6", ls=":", lw=1)
    ax.set(xlabel="round", ylabel="loss", title=history.config.get("name", "run"))
    ax.legend(fontsize=8)
    bx.set(xlabel="round", ylabel="mean ‖B_i − B̄‖²", title="consensus distance")
    return fig
