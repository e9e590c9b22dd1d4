"""Allocation figures: the ``allocate --plot`` bars and the reproduce targets ``alloc`` and ``pareto``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from wirelora.allocation.problem import Allocation
from wirelora.allocation.report import entries
from wirelora.allocation.scenario import Problem

__all__ = ["alloc_figure", "pareto_figure", "plot_allocation"]


def alloc_figure(data: Mapping[str, Any]):
    """The ``alloc`` target: latency and bandwidth share against one group's priority weight."""
    from wirelora.evaluation import plots

    fig = plots.alloc(
        data["total_bandwidth_hz"],
        data["latency_s"],
        priority=data["priority"],
        bandwidth_share_by_group=data["bandwidth_share"],
    )
    fig.axes[1].set_xlabel(f"priority weight of the {data['varied_group']} group (others share the rest)")
    return fig


def pareto_figure(data: Mapping[str, Any]):
    """The ``pareto`` target: the latency-energy front."""
    from wirelora.evaluation import plots

    return plots.pareto(data["latency_s"], data["energy_j"], points=data["points"])


def plot_allocation(
    prob: Problem, alloc: Allocation, path: str | Path, *, latency_cap_s: float | None = None
):
    """Bandwidth (or the TDMA time share) and latency per link entry as bar panels, saved to ``path``; with
    the transmit power or the CPU frequency a variable, a panel for each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rows = entries(prob, alloc)
    labels = [f"{g}:{n}" for g, n, *_ in rows]
    x = np.arange(len(rows))
    groups = sorted(set(g for g, *_ in rows), key=str)
    colors = {g: plt.cm.tab10(i % 10) for i, g in enumerate(groups)}
    c = [colors[g] for g, *_ in rows]
    used = prob.payload_bits > 0
    extra = []  # (values per entry, y label) of the round model's variables
    if alloc.tx_power_w is not None:
        extra.append((alloc.tx_power_w[used] * 1e3, "tx power (mW)"))
    if alloc.cpu_hz is not None:
        extra.append((alloc.cpu_hz[used] / 1e9, "CPU frequency (GHz)"))
    height = 6 + 2.5 * len(extra)
    fig, axes = plt.subplots(2 + len(extra), 1, figsize=(max(6.0, 0.25 * len(rows) + 2), height), sharex=True)
    ax1, ax2 = axes[0], axes[-1]
    if alloc.time_share is not None:
        ax1.bar(x, alloc.time_share[used], color=c)
        ax1.set_ylabel("time share (TDMA)")
    else:
        ax1.bar(x, [r[4] / 1e6 for r in rows], color=c)
        ax1.set_ylabel("bandwidth (MHz)")
    ax1.set_yscale("log")
    for ax, (values, label) in zip(axes[1:-1], extra):
        ax.bar(x, values, color=c)
        ax.set_ylabel(label)
    ax1.set_title(f"{alloc.objective} allocation of {alloc.total_bandwidth_hz / 1e6:g} MHz")
    if alloc.compute_time_s is not None:  # computation, then the upload stacked on it
        comp = alloc.compute_time_s[used]
        ax2.bar(x, comp, color="0.8", label="computation")
        ax2.bar(x, [r[6] for r in rows], bottom=comp, color=c)
    else:
        ax2.bar(x, [r[6] for r in rows], color=c)
    ax2.axhline(alloc.round_latency_s, color="k", lw=0.8, ls="--", label="round latency")
    if latency_cap_s is not None:
        ax2.axhline(latency_cap_s, color="r", lw=0.8, label="latency cap")
    ax2.set_ylabel("latency (s)")
    ax2.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    if len(rows) <= 60:
        ax2.set_xticks(x, labels, rotation=90, fontsize=7)
    # one swatch per group, in its own colour, outside the axes so that it covers no bar
    handles = [Patch(color=colors[g], label=str(g)) for g in groups]
    ax1.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="group")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
