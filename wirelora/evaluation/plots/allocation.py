"""Allocation figures: latency against bandwidth and priority, the energy-latency front (the reproduce
targets ``alloc`` and ``pareto``), and the bars of ``wirelora allocate --plot``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from wirelora.evaluation.plots.style import curves, legend, new_axes, new_axes_pair, series_style

if TYPE_CHECKING:
    from wirelora.allocation.problem import Allocation
    from wirelora.allocation.scenario_arrays import Problem

__all__ = ["alloc", "pareto", "alloc_figure", "pareto_figure", "plot_allocation"]


def alloc(
    total_bandwidth_hz: Sequence[float],
    latency_s_by_method: Mapping[str, Sequence[float]],
    *,
    priority: Sequence[float],
    bandwidth_share_by_group: Mapping[str, Sequence[float]],
    varied_group: str | None = None,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """Round latency vs total bandwidth (left) and each layer group's bandwidth share vs priority (right).

    total_bandwidth_hz : [n]; latency_s_by_method : {method: [n]} round latency (the slowest link),
    the closed-form optimum under the key ``optimum`` drawn as a dashed line; priority : [m] the
    priority given to the varied group; bandwidth_share_by_group : {group: [m]} fraction of the total
    bandwidth each group receives; varied_group : the name of the group whose priority varies (the others
    share the rest), named on the right panel's axis.
    """
    fig, (left, right) = new_axes_pair(axes)
    x_mhz = np.asarray(total_bandwidth_hz, dtype=float) / 1e6
    for name, values in latency_s_by_method.items():
        style = series_style(name)
        if name == "optimum":  # on top of the convex allocator's points, which it should pass through
            style.update(linewidth=1.2, zorder=6)
        elif name == "convex":
            style.update(linestyle="none", marker="o", markersize=7, markerfacecolor="none", mew=1.6)
        else:
            style.update(marker="o", markersize=4)
        left.plot(x_mhz, np.asarray(values, dtype=float), **style)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("total bandwidth (MHz)")
    left.set_ylabel("round latency (s)")
    left.set_title("min-max round latency")
    legend(left)

    curves(right, bandwidth_share_by_group, priority)
    for line in right.get_lines():
        line.set_marker("o")
        line.set_markersize(4)
    if varied_group is None:
        right.set_xlabel("priority of the varied group (weight)")
    else:
        right.set_xlabel(f"priority weight of the {varied_group} group (others share the rest)")
    right.set_ylabel("share of total bandwidth")
    right.set_ylim(0.0, 1.0)
    right.set_title("bandwidth per layer group (weighted objective)")
    legend(right)
    return fig


def pareto(
    latency_s: Sequence[float],
    energy_j: Sequence[float],
    *,
    points: Mapping[str, Sequence[float]] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Energy–latency front of the energy objective, with reference allocations as points.

    latency_s, energy_j : [n] the front (one point per latency cap); points : {name: (latency_s, energy_j)}.
    """
    fig, ax = new_axes(ax)
    ax.plot(
        np.asarray(latency_s, dtype=float),
        np.asarray(energy_j, dtype=float),
        marker="o",
        markersize=4,
        color="tab:red",
        linewidth=2.0,
        label="min energy s.t. latency cap",
    )
    for name, (lat, energy) in (points or {}).items():
        style = series_style(name)
        ax.scatter(
            [lat],
            [energy],
            marker="s",
            s=40,
            color=style.get("color"),
            label=style["label"],
            zorder=5,
            edgecolors="black",
            linewidths=0.5,
        )
    ax.set_xlabel("round latency (s)")
    ax.set_ylabel("transmit energy per round (J)")
    ax.set_title("energy–latency trade-off")
    legend(ax)
    return fig


def alloc_figure(data: Mapping[str, Any]) -> Figure:
    """:func:`alloc` of the ``alloc`` target's saved data."""
    return alloc(
        data["total_bandwidth_hz"],
        data["latency_s"],
        priority=data["priority"],
        bandwidth_share_by_group=data["bandwidth_share"],
        varied_group=data["varied_group"],
    )


def pareto_figure(data: Mapping[str, Any]) -> Figure:
    """:func:`pareto` of the ``pareto`` target's saved data."""
    return pareto(data["latency_s"], data["energy_j"], points=data["points"])


def plot_allocation(
    prob: Problem, alloc: Allocation, path: str | Path, *, latency_cap_s: float | None = None
):
    """Bandwidth (or the TDMA time share) and latency per link entry as bar panels, saved to ``path``; with
    the transmit power or the CPU frequency a variable, a panel for each."""
    from matplotlib import colormaps
    from matplotlib.patches import Patch

    from wirelora.allocation.report import entries

    rows = entries(prob, alloc)
    labels = [f"{g}:{n}" for g, n, *_ in rows]
    x = np.arange(len(rows))
    groups = sorted(set(g for g, *_ in rows), key=str)
    colors = {g: colormaps["tab10"](i % 10) for i, g in enumerate(groups)}
    c = [colors[g] for g, *_ in rows]
    used = prob.payload_bits > 0
    extra = []  # (values per entry, y label) of the round model's variables
    if alloc.tx_power_w is not None:
        extra.append((alloc.tx_power_w[used] * 1e3, "tx power (mW)"))
    if alloc.cpu_hz is not None:
        extra.append((alloc.cpu_hz[used] / 1e9, "CPU frequency (GHz)"))
    height = 6 + 2.5 * len(extra)
    fig = Figure(figsize=(max(6.0, 0.25 * len(rows) + 2), height))
    axes = fig.subplots(2 + len(extra), 1, sharex=True)
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
    return path
