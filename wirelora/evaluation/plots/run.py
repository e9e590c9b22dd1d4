"""The figure of one run directory (``summary.png`` of ``wirelora run``): losses, consensus distance and,
for a correction run, the event gap against the oracle."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from wirelora.evaluation.plots.style import mark_events

__all__ = ["summary"]


def _event_text(event: dict) -> str:
    parts = []
    for key in ("leave", "join"):
        who = event.get(key) or []
        if who:
            parts.append(f"{', '.join(who)} {key}{'s' if len(who) == 1 else ''}")
    return "; ".join(parts) or "event"


def summary(history) -> Figure:
    """Consensus retain/join/forget loss (and the oracle's, dashed) and consensus distance per round, events
    named; a third panel with the event gap per round when the History has one (a correction run).
    history : :class:`wirelora.learning.history.History`."""
    rounds = history.series("round")
    gap = history.series("event_gap")
    has_gap = bool(np.isfinite(gap).any())
    fig = Figure(figsize=(14 if has_gap else 10, 3.8), layout="constrained")
    axes = fig.subplots(1, 3 if has_gap else 2, sharex=True)
    ax, bx = axes[0], axes[1]
    evaluated = np.isfinite(history.series("retain_loss"))  # eval_every > 1 leaves rounds without losses
    for key, colour in (("retain", "C0"), ("join", "C1"), ("forget", "C3")):
        y = history.series(f"{key}_loss")[evaluated]  # NaN (a break in the line) where the set does not exist
        if np.isfinite(y).any():
            ax.plot(rounds[evaluated], y, color=colour, label=f"{key} (consensus)")
        yo = history.series(f"oracle_{key}_loss")
        if np.isfinite(yo).any():
            ax.plot(rounds, yo, color=colour, ls="--", lw=1, label=f"{key} (oracle)")
    bx.semilogy(rounds, history.series("consensus_distance") + 1e-12, color="C2")
    ax.set(xlabel="round", ylabel="loss (nats)", title=history.config.get("name", "run"))
    handles, labels = ax.get_legend_handles_labels()  # below the panels: the curves fill the axes
    fig.legend(
        handles, labels, loc="outside lower center", ncols=max(len(labels), 1), fontsize=8, frameon=False
    )
    bx.set(xlabel="round", ylabel=r"mean $\|B_i - \bar B\|_F^2$ (squared norm)", title="consensus distance")
    if has_gap:
        cx = axes[2]
        finite = np.isfinite(gap)
        method = (history.meta.get("correction") or {}).get("method", "correction")
        cx.plot(rounds[finite], gap[finite], color="C4", marker="o", markersize=2.5, label=method)
        cx.axhline(0.0, color="black", ls="--", lw=0.8, label="oracle (gap 0)")
        cx.set(xlabel="round", ylabel=r"event gap $E(k)$ (nats)", title="event gap vs the oracle")
        cx.legend(fontsize=8)
    events = [(r["round"], _event_text(r["event"])) for r in history.rounds if r.get("event")]
    for a in axes:
        a.set_xlim(rounds[0], max(rounds[-1], rounds[0] + 1))
        mark_events(a, events)
    return fig
