"""The correction figures: the paper's Fig. 3 - Fig. 8 and Table III (methods and arms after events)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from wirelora.evaluation.names import label
from wirelora.evaluation.plots.style import (
    FIGSIZE_CURVES,
    MARKERS,
    clip_ylim,
    curves,
    label_points,
    legend_outside,
    mark_events,
    new_axes,
    series_style,
)

__all__ = ["fig3", "fig4", "fig5", "fig6", "fig7", "fig8", "table3", "TABLE3_HEADER"]


Bands = Mapping[str, tuple[Sequence[float], Sequence[float]]]  # {series: (lo [n], hi [n])}


def _bands(ax: Axes, bands: Bands | None, seeds: int | None) -> None:
    """Shade each series' 95 % interval in its colour, and say over how many seeds the curves are means
    (with one seed there is no interval, and the figure says so)."""
    for name, (lo, hi) in (bands or {}).items():
        lo_, hi_ = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
        ok = np.isfinite(lo_) & np.isfinite(hi_)  # bridged like their curves
        ax.fill_between(np.arange(lo_.size)[ok], lo_[ok], hi_[ok], color=series_style(name).get("color"),
                        alpha=0.18, linewidth=0, zorder=1)  # fmt: skip
    if seeds is None:
        return
    text = "1 seed (no interval)" if seeds < 2 else f"mean of {seeds} seeds,\nshaded: 95 % t-interval"
    ax.plot([], [], linestyle="none", label=text)  # a legend line of its own, clear of the curves


def _gap_curves(
    gap_by: Mapping[str, Sequence[float]], title: str, ax: Axes | None, bands: Bands | None, seeds: int | None
) -> Figure:
    """Event gap E_FU(k) vs k, one curve per entry, the oracle's zero dashed (Fig. 3 and Fig. 6)."""
    fig, ax = new_axes(ax, figsize=FIGSIZE_CURVES)
    curves(ax, gap_by, bridge=True)
    _bands(ax, bands, seeds)
    ax.axhline(0.0, color="black", linestyle="--", linewidth=0.8, zorder=0, label="oracle (gap 0)")
    ax.set_xlabel("correction round k after the leave")
    ax.set_ylabel(r"event gap $E_{FU}(k)$ (nats)")
    ax.set_title(title)
    legend_outside(ax)
    return fig


def fig3(
    gap_by_method: Mapping[str, Sequence[float]],
    *,
    bands: Bands | None = None,
    seeds: int | None = None,
    subject: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Fig. 3: event gap E_FU(k) vs correction round k after a leave, one curve per method.

    gap_by_method : {method: [K + 1]} — the gap at k = 0..K (k = 0 is right after the projection), the mean
    over seeds. The oracle (``retrain``) is drawn dashed when present. bands : {method: (lo, hi)}, each
    [K + 1], the 95 % interval, shaded; seeds : how many seeds the curves average (written on the figure);
    subject : the model and data, in the title's brackets (e.g. "all-MiniLM-L6-v2, chatterbot topics").
    """
    title = "Fig. 3 — event gap after a leave" + (f" ({subject})" if subject else "")
    return _gap_curves(gap_by_method, title, ax, bands, seeds)


def fig4(
    ri_by_method: Mapping[str, Sequence[float]],
    *,
    steps: Sequence[float],
    events: Sequence[Sequence] = (),
    failed: Sequence[str] = (),
    ri_floor_pct: float | None = -100.0,
    ax: Axes | None = None,
) -> Figure:
    """Fig. 4: relative improvement RI(k) over the uniform schedule along a long run, events marked.

    ri_by_method : {method: [T]} in percent; steps : [T] round index of each value; events : [(round, text)];
    failed : methods whose run failed, named on the figure (so that a missing curve is not a silent gap);
    ri_floor_pct : the lowest RI shown (−100 %: twice the uniform loss); deeper dips are marked ▼ on the
    bottom edge and their minima named in the legend (None: the full range).
    """
    fig, ax = new_axes(ax, figsize=FIGSIZE_CURVES)
    curves(ax, ri_by_method, steps)
    ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=0)
    clip_ylim(ax, ri_by_method, lower=ri_floor_pct, unit=" %")
    mark_events(ax, events)
    ax.set_xlabel("training round")
    ax.set_ylabel("RI vs uniform (%)")
    ax.set_title("Fig. 4 — relative improvement over a run with joins and leaves")
    legend_outside(ax)
    if failed:
        text = "not shown (run failed): " + ", ".join(label(n) for n in failed)
        ax.text(0.01, 0.01, text, transform=ax.transAxes, fontsize=7, color="tab:red")
    return fig


def fig5(
    retain_loss_by_method: Mapping[str, Sequence[float]],
    *,
    oracle_retain_loss: float | None = None,
    bands: Bands | None = None,
    seeds: int | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Fig. 5: retain loss (consensus model, remaining devices' data) vs correction round k.

    retain_loss_by_method : {method: [K + 1]} (mean over seeds); oracle_retain_loss : the retrained model's
    retain loss, drawn as a dashed level; bands, seeds : as in :func:`fig3`.
    """
    fig, ax = new_axes(ax, figsize=FIGSIZE_CURVES)
    curves(ax, retain_loss_by_method, bridge=True)
    _bands(ax, bands, seeds)
    if oracle_retain_loss is not None:
        ax.axhline(
            oracle_retain_loss, color="black", linestyle="--", linewidth=1.0, label="oracle (retrained)"
        )
    ax.set_xlabel("correction round k after the leave")
    ax.set_ylabel("retain loss (nats)")
    ax.set_title("Fig. 5 — retain loss after a leave")
    legend_outside(ax)
    return fig


def fig6(
    gap_by_arm: Mapping[str, Sequence[float]],
    *,
    bands: Bands | None = None,
    seeds: int | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Fig. 6: event gap E_FU(k) vs k for the ablation arms. gap_by_arm : {arm: [K + 1]}; bands, seeds : as
    in :func:`fig3`."""
    return _gap_curves(gap_by_arm, "Fig. 6 — ablation arms", ax, bands, seeds)


def fig7(
    points: Mapping[str, Sequence[float]],
    *,
    front: Sequence[str] = (),
    ax: Axes | None = None,
) -> Figure:
    """Fig. 7: final event gap vs normalised total cost, one point per arm, the Pareto front joined.

    points : {arm: (normalised_total_cost, final_gap)}; front : arm names on the Pareto front, in cost order.
    """
    fig, ax = new_axes(ax, figsize=FIGSIZE_CURVES)
    if not points:
        raise ValueError("points: nothing to plot (empty mapping)")
    xs, ys = (np.array([p[i] for p in points.values()], dtype=float) for i in (0, 1))
    scale = np.array([max(np.ptp(xs), 1e-12), max(np.ptp(ys), 1e-12)])
    drawn: list[np.ndarray] = []
    for i, (name, (cost, gap)) in enumerate(points.items()):
        style = series_style(name)
        here = np.array([cost, gap]) / scale
        under = sum(np.hypot(*(here - q)) < 0.03 for q in drawn)  # arms on the same point: nested markers
        drawn.append(here)
        ax.scatter(
            [cost],
            [gap],
            s=(90 if name in ("full", "proposed") else 60) / (1 + 1.5 * under),
            marker=MARKERS[i % len(MARKERS)],
            color=style.get("color"),
            label=style["label"],
            zorder=5 + under,
            edgecolors="black",
            linewidths=0.5,
        )
    if front:
        fx = [points[n][0] for n in front]
        fy = [points[n][1] for n in front]
        # a ring around each front point: a front of one point draws no step line
        ax.scatter(fx, fy, s=220, facecolors="none", edgecolors="0.3", linewidths=1.0, zorder=4,
                   label="Pareto front")  # fmt: skip
        ax.step(fx, fy, where="post", color="0.3", linestyle="--", linewidth=1.0, zorder=2)
    ax.margins(x=0.18, y=0.12)  # room for the labels inside the axes
    ax.set_xlabel("normalised total cost (uniform = 1)")
    ax.set_ylabel(r"final event gap $E_{FU}(K)$ (nats)")
    ax.set_title("Fig. 7 — gap vs cost")
    legend_outside(ax)
    label_points(ax, {series_style(n)["label"]: tuple(p) for n, p in points.items()})  # last: after layout
    return fig


def fig8(ri_by_arm: Mapping[str, Sequence[float]], *, ax: Axes | None = None) -> Figure:
    """Fig. 8: RI(k) of each arm vs the uniform arm, in percent. ri_by_arm : {arm: [K + 1]}."""
    fig, ax = new_axes(ax, figsize=FIGSIZE_CURVES)
    curves(ax, ri_by_arm)
    ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=0)
    ax.set_xlabel("correction round k after the leave")
    ax.set_ylabel("RI vs uniform (%)")
    ax.set_title("Fig. 8 — relative improvement of each arm")
    legend_outside(ax)
    return fig


TABLE3_HEADER = ("arm", "final gap", "± gap", "RI (%)", "± RI", "NormComm", "± NormComm", "NormTotal",
                 "± NormTotal", "forget gap", "± forget gap",
                 "paper: gap", "paper: RI (%)", "paper: NormComm", "paper: NormTotal")  # fmt: skip
TABLE3_MEASURED = ("final_gap", "ri", "norm_comm", "norm_total", "forget_gap")


def table3(
    rows_by_arm: Mapping[str, Mapping[str, object]],
    paper_by_arm: Mapping[str, Sequence[float | None]],
) -> tuple[list[str], list[list]]:
    """Table III: (header, rows), one row per arm: what wirelora measured beside what the paper reports.

    rows_by_arm : {arm: {"final_gap", "ri", "norm_comm", "norm_total", "forget_gap": entry}}, each entry a
    number (one seed) or described over seeds ({"mean", "half_width", ...}: the ± column is the half-width
    of the 95 % interval, None with one seed); paper_by_arm : {arm: (gap, RI %, NormComm, NormTotal)}, None
    where the paper gives no number.
    """
    rows = []
    for arm, r in rows_by_arm.items():
        measured = []
        for k in TABLE3_MEASURED:
            v = r[k]
            measured += [v["mean"], v.get("half_width")] if isinstance(v, Mapping) else [v, None]
        rows.append([label(arm), *measured, *paper_by_arm[arm]])
    return list(TABLE3_HEADER), rows
