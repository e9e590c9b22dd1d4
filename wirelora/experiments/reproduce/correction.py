"""The paper's correction targets: one leave-only scenario swept over methods and policy arms (Fig. 3,
Fig. 5 - Fig. 8, Table III) and one long run with joins and leaves (Fig. 4).

Every ``compute_<name>(settings, ctx)`` returns plain data; every ``draw_<name>(data)`` is one call into
:mod:`wirelora.evaluation.plots`. Settings: ``configs/reproduce/correction.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from wirelora.evaluation.names import PAPER_ARMS, PAPER_METHODS
from wirelora.experiments.reproduce.runs import event_marks, scenario_config, sweep_runs

if TYPE_CHECKING:
    from wirelora.experiments.reproduce.recipe import Context

__all__ = [
    "window_curve",
    "PAPER_TABLE3",
    "compute_fig3",
    "draw_fig3",
    "compute_fig5",
    "draw_fig5",
    "compute_fig6",
    "draw_fig6",
    "compute_fig7",
    "draw_fig7",
    "compute_fig8",
    "draw_fig8",
    "compute_table3",
    "draw_table3",
    "compute_fig4",
    "draw_fig4",
]


def _leave_runs(cfg: Mapping[str, Any], ctx: Context) -> dict:
    config = scenario_config(cfg)
    if len(config.events) != 1 or config.events[0].join or not config.events[0].leave:
        raise ValueError(f"config {cfg['config']!r}: the leave-only figures need exactly one leave event")
    # proposed runs the config's policy rule; the arms (full included) run the paper's Fisher priority
    names = [*PAPER_METHODS, "no_correction", *(f"arm:{a}" for a in PAPER_ARMS)]
    runs, failed = sweep_runs(config, names, cfg, ctx)
    if failed:
        raise RuntimeError(f"{config.name}: {'; '.join(f'{n}: {e}' for n, e in failed.items())}")
    return runs


def window_curve(history, key: str) -> np.ndarray:
    """[K + 1] values of a per-round number over the correction window: k = 0 right after the projection
    (the post-event record), then after each correction round. NaN where it was not recorded."""
    lo, hi = history.meta["correction"]["window"]
    by_round = {r["round"]: r for r in history.rounds}
    post = by_round[lo].get("post_event", {})
    values = [post.get(key)] + [by_round[r].get(key) for r in range(lo, hi + 1) if r in by_round]
    return np.array([np.nan if v is None else float(v) for v in values])


def _event_loss(history, lambda_j: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(rounds, L): L = retain loss + λ_j · join loss of the consensus model (join part 0 before a join)."""
    rounds = history.series("round")
    retain = history.series("retain_loss")
    join_loss = np.nan_to_num(history.series("join_loss"), nan=0.0)
    keep = ~np.isnan(retain)
    return rounds[keep], (retain + lambda_j * join_loss)[keep]


# --- fig3, fig5: methods after a leave ---------------------------------------------------------------------
def compute_fig3(cfg: Mapping[str, Any], ctx: Context) -> dict:
    runs = _leave_runs(cfg, ctx)
    names = [*PAPER_METHODS, "no_correction"]
    return {
        "event_gap": {n: window_curve(runs[n], "event_gap") for n in names},
        "forget_gap": {n: window_curve(runs[n], "forget_gap") for n in names},
    }


def draw_fig3(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.fig3(data["event_gap"])


def compute_fig5(cfg: Mapping[str, Any], ctx: Context) -> dict:
    runs = _leave_runs(cfg, ctx)
    names = [*PAPER_METHODS, "no_correction"]
    oracle = runs["proposed"].series("oracle_retain_loss")
    return {
        "retain_loss": {n: window_curve(runs[n], "retain_loss") for n in names},
        "oracle_retain_loss": float(np.nanmean(oracle)),
    }


def draw_fig5(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.fig5(data["retain_loss"], oracle_retain_loss=data["oracle_retain_loss"])


# --- fig6, fig7, fig8: the policy's ablation arms ----------------------------------------------------------
def compute_fig6(cfg: Mapping[str, Any], ctx: Context) -> dict:
    runs = _leave_runs(cfg, ctx)
    arms = [*PAPER_ARMS, "no_correction"]
    return {
        "event_gap": {
            a: window_curve(runs[a if a == "no_correction" else f"arm:{a}"], "event_gap") for a in arms
        }
    }


def draw_fig6(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.fig6(data["event_gap"])


def _pareto_front(points: Mapping[str, Sequence[float]]) -> list[str]:
    """Names whose (cost, gap) no other point beats in both, in cost order."""
    order = sorted(points, key=lambda n: (points[n][0], points[n][1]))
    front, best = [], np.inf
    for n in order:
        if points[n][1] < best:
            front.append(n)
            best = points[n][1]
    return front


def compute_fig7(cfg: Mapping[str, Any], ctx: Context) -> dict:
    runs = _leave_runs(cfg, ctx)
    points = {}
    for a in PAPER_ARMS:
        s = runs[f"arm:{a}"].meta["correction"]
        points[a] = [s["norm_total"], s["final_event_gap"]]
    return {"points": points, "front": _pareto_front(points)}


def draw_fig7(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.fig7(data["points"], front=data["front"])


def compute_fig8(cfg: Mapping[str, Any], ctx: Context) -> dict:
    from wirelora.evaluation.metrics import relative_improvement

    runs = _leave_runs(cfg, ctx)
    # RI on the event objective L = retain (+ join) loss: the gap crosses 0, where a ratio means nothing
    uniform = window_curve(runs["arm:uniform"], "retain_loss")
    ri = {
        a: relative_improvement(uniform, window_curve(runs[f"arm:{a}"], "retain_loss"))
        for a in PAPER_ARMS
        if a != "uniform"
    }
    return {"ri": ri}


def draw_fig8(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.fig8(data["ri"])


# --- table3 -----------------------------------------------------------------------------------------------
# Table III of the paper (K = 60): final gap, RI (%), NormComm, NormTotal; None where it gives none.
PAPER_TABLE3 = {
    "full": (0.39, 6.3, 0.58, 0.83),
    "local_steps": (None, 4.7, None, None),
    "retain_prox": (None, 1.7, None, None),
    "ls_prox": (None, 1.5, None, None),
    "uniform": (None, 0.0, 1.0, 1.0),
    "topology": (None, -3.1, 1.17, None),
    "no_correction": (None, -20.2, None, None),
}


def compute_table3(cfg: Mapping[str, Any], ctx: Context) -> dict:
    from wirelora.evaluation.summary import table

    runs = _leave_runs(cfg, ctx)
    names = {a: ("no_correction" if a == "no_correction" else f"arm:{a}") for a in PAPER_TABLE3}
    rows = {r["name"]: r for r in table({n: runs[n] for n in names.values()})}
    keys = ("final_gap", "final_gap_avg10", "ri", "norm_comm", "norm_total", "stored_bytes", "forget_gap",
            "contribution_residual")  # fmt: skip
    return {
        "rows": {arm: {k: rows[name].get(k) for k in keys} for arm, name in names.items()},
        "paper": {a: list(v) for a, v in PAPER_TABLE3.items()},
    }


def draw_table3(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.table3(data["rows"], data["paper"])


# --- fig4: a long run with joins and leaves ---------------------------------------------------------------
def compute_fig4(cfg: Mapping[str, Any], ctx: Context) -> dict:
    from wirelora.evaluation.metrics import relative_improvement

    config = scenario_config(cfg)
    methods = list(cfg["methods"])
    unknown = [m for m in methods if m not in PAPER_METHODS]
    if unknown:
        raise ValueError(f"settings.fig4.methods: {unknown[0]!r} is not one of {', '.join(PAPER_METHODS)}")
    runs, failed = sweep_runs(config, [*methods, "arm:uniform"], cfg, ctx)
    if "arm:uniform" not in runs:
        raise RuntimeError(f"fig4: the uniform arm failed: {failed['arm:uniform']}")
    steps, uniform = _event_loss(runs["arm:uniform"])
    ri = {}
    for n in (m for m in methods if m in runs):
        s, loss = _event_loss(runs[n])
        if not np.array_equal(s, steps):
            raise ValueError(f"fig4: {n} was evaluated at other rounds than the uniform arm")
        ri[n] = relative_improvement(uniform, loss)
    stored = {n: runs[n].meta["correction"].get("stored_bytes_per_device", 0.0) for n in ri}
    return {
        "steps": steps,
        "ri": ri,
        "events": event_marks(config),
        "stored_bytes_per_device": stored,
        "final_ri": {n: float(v[-1]) for n, v in ri.items()},
        "failed": failed,
    }


def draw_fig4(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.fig4(
        data["ri"], steps=data["steps"], events=data["events"], failed=list(data.get("failed", {}))
    )
