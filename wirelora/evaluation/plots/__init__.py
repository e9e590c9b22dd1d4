"""One thin function per figure: data in, a matplotlib ``Figure`` out.

Nothing here computes a result: the recipes in :mod:`wirelora.experiments.paper` run the experiments,
save the data (JSON/CSV) and call these functions, so a figure can be redrawn from saved data alone.
Every function takes ``ax=None`` (or ``axes=None`` for two-panel figures): pass axes to draw into an
existing figure, else a new figure is made. Figures are built with ``matplotlib.figure.Figure`` rather
than pyplot, so that drawing many of them in a loop neither leaks (pyplot keeps every figure alive)
nor needs a display.

Curves are passed as ``{name: values}`` mappings; names that wirelora knows (``proposed``, ``naive``,
``full``, ``ls_prox``, …) get the paper's labels and fixed colours; any other name is drawn as given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

__all__ = [
    "fig3",
    "fig4",
    "fig5",
    "fig6",
    "fig7",
    "fig8",
    "alloc",
    "pareto",
    "leakage",
    "regimes",
    "join",
    "label",
]

# The paper's names for wirelora's method and arm keys (config values of correction.method and policy.arm).
_LABELS = {
    "proposed": "Proposed",
    "retrain": "Full Retrain (oracle)",
    "no_correction": "No-correction",
    "naive": "Naive Remove",
    "federaser_d2d": "FedEraser-D2D",
    "ewc": "EWC-leave/join",
    "influence_d2d": "Influence-Fn-D2D",
    "kd_unlearn": "KD-Unlearn",
    "uniform": "Uniform",
    "full": "full",
    "ls_prox": "ls+prox",
    "local_steps": "local-steps",
    "retain_prox": "retain-prox",
    "topology": "topology",
    "convex": "convex allocator",
    "equal": "equal split",
    "proportional": "payload-proportional split",
    "optimum": "closed-form optimum",
    "minmax": "min-max latency allocation",
    "slotted": "slotted bases",
    "independent": "independent bases",
    "orthogonal": "orthogonal extension (own block)",
    "shared": "shared ownership (all train every block)",
}

# Fixed colours so that a method looks the same in every figure (tab10 order, oracle in black).
_COLORS = {
    "proposed": "tab:red",
    "full": "tab:red",
    "retrain": "black",
    "no_correction": "tab:gray",
    "naive": "tab:blue",
    "federaser_d2d": "tab:green",
    "ewc": "tab:purple",
    "influence_d2d": "tab:brown",
    "kd_unlearn": "tab:orange",
    "uniform": "tab:olive",
    "ls_prox": "tab:blue",
    "local_steps": "tab:green",
    "retain_prox": "tab:purple",
    "topology": "tab:cyan",
    "convex": "tab:red",
    "equal": "tab:blue",
    "proportional": "tab:green",
    "optimum": "black",
    "minmax": "tab:purple",
    "slotted": "tab:red",
    "independent": "tab:blue",
    "orthogonal": "tab:red",
    "shared": "tab:blue",
}

_ACTION_COLORS = {"local": "tab:green", "prox": "tab:purple", "topology": "tab:cyan", "sync": "tab:orange",
                  "none": "0.85"}  # fmt: skip
_FIGSIZE = (6.0, 3.8)
_FIGSIZE_CURVES = (7.6, 3.8)  # room for a legend right of the axes: many curves cross every corner
_FIGSIZE_PAIR = (11.0, 3.8)


def label(name: str) -> str:
    """The display label of a method, arm or series key (the key itself when unknown)."""
    return _LABELS.get(name, name)


def _style(name: str) -> dict:
    style: dict = {"label": label(name)}
    if name in _COLORS:
        style["color"] = _COLORS[name]
    if name in ("retrain", "optimum"):
        style["linestyle"] = "--"
    if name in ("proposed", "full", "convex"):
        style["linewidth"] = 2.2
        style["zorder"] = 5
    return style


def _axes(ax: Axes | None, figsize=_FIGSIZE) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _axes_pair(axes: Sequence[Axes] | None) -> tuple[Figure, Sequence[Axes]]:
    if axes is not None:
        if len(axes) != 2:
            raise ValueError(f"axes: expected 2 axes, got {len(axes)}")
        return axes[0].figure, axes
    fig = Figure(figsize=_FIGSIZE_PAIR, layout="constrained")
    return fig, fig.subplots(1, 2)


def _curves(ax: Axes, series: Mapping[str, Sequence[float]], x: Sequence[float] | None = None) -> None:
    if not series:
        raise ValueError("series: nothing to plot (empty mapping)")
    for name, values in series.items():
        y = np.asarray(values, dtype=float)
        xs = np.arange(len(y)) if x is None else np.asarray(x, dtype=float)
        if xs.shape != y.shape:
            raise ValueError(f"{name}: {y.shape[0]} values for {xs.shape[0]} x positions")
        ax.plot(xs, y, **_style(name))


def _mark_events(ax: Axes, events: Sequence[Sequence]) -> None:
    """Vertical lines at each event round, labelled at the top of the axes."""
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


def _legend_outside(ax: Axes) -> None:
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _legend(ax: Axes, **kwargs) -> None:
    kwargs.setdefault("fontsize", 8)
    kwargs.setdefault("frameon", False)
    ax.legend(**kwargs)


def _gap_curves(gap_by: Mapping[str, Sequence[float]], title: str, ax: Axes | None) -> Figure:
    """Event gap E_FU(k) vs k, one curve per entry, the oracle's zero dashed (Fig. 3 and Fig. 6)."""
    fig, ax = _axes(ax, figsize=_FIGSIZE_CURVES)
    _curves(ax, gap_by)
    ax.axhline(0.0, color="black", linestyle="--", linewidth=0.8, zorder=0, label="oracle (gap 0)")
    ax.set_xlabel("correction round k after the leave")
    ax.set_ylabel(r"event gap $E_{FU}(k)$ (nats)")
    ax.set_title(title)
    _legend_outside(ax)
    return fig


def fig3(gap_by_method: Mapping[str, Sequence[float]], *, ax: Axes | None = None) -> Figure:
    """Fig. 3: event gap E_FU(k) vs correction round k after a leave, one curve per method.

    gap_by_method : {method: [K + 1]} — the gap at k = 0..K (k = 0 is right after the projection). The oracle
    (``retrain``) is drawn dashed when present.
    """
    return _gap_curves(gap_by_method, "Fig. 3 — event gap after a leave", ax)


def fig4(
    ri_by_method: Mapping[str, Sequence[float]],
    *,
    steps: Sequence[float],
    events: Sequence[Sequence] = (),
    ax: Axes | None = None,
) -> Figure:
    """Fig. 4: relative improvement RI(k) over the uniform schedule along a long run, events marked.

    ri_by_method : {method: [T]} in percent; steps : [T] round index of each value; events : [(round, text)].
    """
    fig, ax = _axes(ax, figsize=_FIGSIZE_CURVES)
    _curves(ax, ri_by_method, steps)
    ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=0)
    _mark_events(ax, events)
    ax.set_xlabel("training round")
    ax.set_ylabel("RI vs uniform (%)")
    ax.set_title("Fig. 4 — relative improvement over a run with joins and leaves")
    _legend_outside(ax)
    return fig


def fig5(retain_loss_by_method: Mapping[str, Sequence[float]], *, ax: Axes | None = None) -> Figure:
    """Fig. 5: retain loss (consensus model, remaining devices' data) vs correction round k.

    retain_loss_by_method : {method: [K + 1]}.
    """
    fig, ax = _axes(ax, figsize=_FIGSIZE_CURVES)
    _curves(ax, retain_loss_by_method)
    ax.set_xlabel("correction round k after the leave")
    ax.set_ylabel("retain loss (nats)")
    ax.set_title("Fig. 5 — retain loss after a leave")
    _legend_outside(ax)
    return fig


def fig6(gap_by_arm: Mapping[str, Sequence[float]], *, ax: Axes | None = None) -> Figure:
    """Fig. 6: event gap E_FU(k) vs k for the ablation arms. gap_by_arm : {arm: [K + 1]}."""
    return _gap_curves(gap_by_arm, "Fig. 6 — ablation arms", ax)


def fig7(
    points: Mapping[str, Sequence[float]],
    *,
    front: Sequence[str] = (),
    ax: Axes | None = None,
) -> Figure:
    """Fig. 7: final event gap vs normalised total cost, one point per arm, the Pareto front joined.

    points : {arm: (normalised_total_cost, final_gap)}; front : arm names on the Pareto front, in cost order.
    """
    fig, ax = _axes(ax)
    if not points:
        raise ValueError("points: nothing to plot (empty mapping)")
    # arms often land on the same point (an arm whose knob the priority barely moves): cycle the label
    # offsets so that coinciding labels stay readable
    offsets = [(5, 4), (5, -11), (-5, 4), (-5, -11)]
    for i, (name, (cost, gap)) in enumerate(points.items()):
        style = _style(name)
        ax.scatter(
            [cost],
            [gap],
            s=60 if name in ("full", "proposed") else 36,
            color=style.get("color"),
            label=style["label"],
            zorder=5,
            edgecolors="black",
            linewidths=0.5,
        )
        dx, dy = offsets[i % len(offsets)]
        ax.annotate(
            style["label"],
            (cost, gap),
            textcoords="offset points",
            xytext=(dx, dy),
            fontsize=8,
            ha="left" if dx > 0 else "right",
        )
    if front:
        fx = [points[n][0] for n in front]
        fy = [points[n][1] for n in front]
        # a ring around each front point: a front of one point draws no step line
        ax.scatter(fx, fy, s=220, facecolors="none", edgecolors="0.3", linewidths=1.0, zorder=4,
                   label="Pareto front")  # fmt: skip
        ax.step(fx, fy, where="post", color="0.3", linestyle="--", linewidth=1.0, zorder=2)
    ax.set_xlabel("normalised total cost (uniform = 1)")
    ax.set_ylabel(r"final event gap $E_{FU}(K)$ (nats)")
    ax.set_title("Fig. 7 — gap vs cost")
    _legend(ax)
    return fig


def fig8(ri_by_arm: Mapping[str, Sequence[float]], *, ax: Axes | None = None) -> Figure:
    """Fig. 8: RI(k) of each arm vs the uniform arm, in percent. ri_by_arm : {arm: [K + 1]}."""
    fig, ax = _axes(ax, figsize=_FIGSIZE_CURVES)
    _curves(ax, ri_by_arm)
    ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=0)
    ax.set_xlabel("correction round k after the leave")
    ax.set_ylabel("RI vs uniform (%)")
    ax.set_title("Fig. 8 — relative improvement of each arm")
    _legend_outside(ax)
    return fig


def alloc(
    total_bandwidth_hz: Sequence[float],
    latency_s_by_method: Mapping[str, Sequence[float]],
    *,
    priority: Sequence[float],
    bandwidth_share_by_group: Mapping[str, Sequence[float]],
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """Round latency vs total bandwidth (left) and each layer group's bandwidth share vs priority (right).

    total_bandwidth_hz : [n]; latency_s_by_method : {method: [n]} round latency (the slowest link),
    the closed-form optimum under the key ``optimum`` drawn as a dashed line; priority : [m] the
    priority given to the varied group; bandwidth_share_by_group : {group: [m]} fraction of the total
    bandwidth each group receives.
    """
    fig, (left, right) = _axes_pair(axes)
    x_mhz = np.asarray(total_bandwidth_hz, dtype=float) / 1e6
    for name, values in latency_s_by_method.items():
        style = _style(name)
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
    _legend(left)

    _curves(right, bandwidth_share_by_group, priority)
    for line in right.get_lines():
        line.set_marker("o")
        line.set_markersize(4)
    right.set_xlabel("priority of the varied group (weight)")
    right.set_ylabel("share of total bandwidth")
    right.set_ylim(0.0, 1.0)
    right.set_title("bandwidth per layer group (weighted objective)")
    _legend(right)
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
    fig, ax = _axes(ax)
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
        style = _style(name)
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
    _legend(ax)
    return fig


def leakage(
    rank_over_dim: Sequence[float],
    overlap_by_basis: Mapping[str, Sequence[float]],
    residual_by_basis: Mapping[str, Sequence[float]],
    *,
    theory: Sequence[float],
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """Basis overlap (left) and the leaver's residual after a leave (right) vs r/d, per basis kind.

    rank_over_dim : [n]; overlap_by_basis : {basis: [n]} measured mean ‖A_iᵀA_j‖_F²;
    residual_by_basis : {basis: [n]} measured ‖ΔW·A_u‖_F / ‖ΔW‖_F after the leave; theory : [n]
    Lemma 1's r²/d. Exact zeros (slotted) cannot sit on a log axis: they are stated in the legend instead.
    """
    fig, (left, right) = _axes_pair(axes)
    x = np.asarray(rank_over_dim, dtype=float)
    for ax_, series in ((left, overlap_by_basis), (right, residual_by_basis)):
        for name, values in series.items():
            y = np.asarray(values, dtype=float)
            style = _style(name)
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
    _legend(left)
    _legend(right)
    return fig


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
    dominant : [ny][nx] the name of the dominant residual, written in each cell.
    """
    fig, ax = _axes(ax, figsize=(6.5, 4.6))
    act = np.asarray(action, dtype=object)
    nx, ny = len(spectral_gap), len(heterogeneity)
    if act.shape != (ny, nx):
        raise ValueError(
            f"action: expected shape ({ny}, {nx}) for [heterogeneity, spectral_gap], got {act.shape}"
        )
    names = sorted(set(act.ravel().tolist()))
    codes = np.vectorize(names.index)(act)  # [ny, nx] category index per cell
    from matplotlib.colors import BoundaryNorm, ListedColormap

    # one colour per action in every regimes figure; unknown names take the spare colours in order
    spare = iter(["tab:blue", "tab:red", "tab:brown", "tab:pink", "tab:olive"])
    cmap = ListedColormap([_ACTION_COLORS.get(n) or next(spare) for n in names])
    norm = BoundaryNorm(np.arange(len(names) + 1) - 0.5, len(names))
    ax.imshow(codes, origin="lower", cmap=cmap, norm=norm, aspect="auto")
    if dominant is not None:
        dom = np.asarray(dominant, dtype=object)
        for iy in range(ny):
            for ix in range(nx):
                ax.text(ix, iy, str(dom[iy, ix]), ha="center", va="center", fontsize=7)
    ax.set_xticks(range(nx), [f"{v:.2g}" for v in spectral_gap], fontsize=8)
    ax.set_yticks(range(ny), [f"{v:.2g}" for v in heterogeneity], fontsize=8)
    ax.set_xlabel(r"spectral gap $1-\rho$ (mixing quality)")
    ax.set_ylabel(r"heterogeneity $\zeta^2$")
    ax.set_title("chosen action (colour) and dominant residual (text)")
    from matplotlib.patches import Patch

    ax.legend(
        handles=[Patch(color=cmap(i), label=n) for i, n in enumerate(names)],
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
    )
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
    fig, (left, right) = _axes_pair(axes)
    _curves(left, join_loss_by_arm, rounds)
    _curves(right, retain_loss_by_arm, rounds)
    for ax_, what in ((left, "joiners' data"), (right, "retained devices' data")):
        _mark_events(ax_, events)
        ax_.set_xlabel("training round")
        ax_.set_ylabel(f"loss on {what} (nats)")
        _legend(ax_)
    left.set_title("learning the joiner")
    right.set_title("keeping what the others learned")
    return fig
