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
from wirelora.evaluation.stats import band_of, describe, mean_of, paired
from wirelora.experiments.reproduce.runs import event_marks, scenario_config, seed_sweeps

if TYPE_CHECKING:
    from wirelora.experiments.reproduce.recipe import Context

__all__ = [
    "window_curve",
    "PAPER_TABLE3",
    "TABLE3_KEYS",
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


def _leave_sweeps(cfg: Mapping[str, Any], ctx: Context) -> tuple[list[int], list[dict]]:
    """(seeds, [{name: History} per seed]) of the leave-only sweep; every run must succeed."""
    config = scenario_config(cfg)
    if len(config.events) != 1 or config.events[0].join or not config.events[0].leave:
        raise ValueError(f"config {cfg['config']!r}: the leave-only figures need exactly one leave event")
    # proposed runs the config's policy rule; the arms (full included) run the paper's Fisher priority
    arms = [f"arm:{a}" for a in PAPER_ARMS] if cfg.get("arms", True) else []  # fig3-minilm: methods only
    names = [*PAPER_METHODS, "no_correction", *arms]
    seeds = [int(config.seed) + s for s in range(ctx.seeds)]
    sweeps = seed_sweeps(config, names, cfg, ctx)
    failed = [f"seed {s}: {n}: {e}" for s, (_, f) in zip(seeds, sweeps) for n, e in f.items()]
    if failed:
        raise RuntimeError(f"{config.name}: {'; '.join(failed)}")
    return seeds, [runs for runs, _ in sweeps]


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


def _summary(history, key: str) -> float:
    v = history.meta["correction"].get(key)
    return np.nan if v is None else float(v)


def _paired_vs(values: Mapping[str, list], ref: str, names: Sequence[str]) -> dict:
    """{name: paired difference name − ref} over seeds, for every name but ref."""
    return {n: paired(values[n], values[ref], vs=ref) for n in names if n != ref}


def _curves(sweeps: list[dict], runs_of: Mapping[str, str], key: str) -> dict[str, list]:
    """{series: [per seed: window curve of ``key``]}; runs_of maps a series to its run name."""
    return {n: [window_curve(runs[r], key) for runs in sweeps] for n, r in runs_of.items()}


def _finals(curves: Mapping[str, list]) -> dict[str, list]:
    return {n: [c[-1] for c in v] for n, v in curves.items()}


# --- fig3, fig5: methods after a leave ---------------------------------------------------------------------
# Every data file of a seeded target: "seeds" (the seed values), each curve and headline number described
# over seeds (wirelora.evaluation.stats.describe: mean, 95 % interval, per_seed) and "paired" differences.
def compute_fig3(cfg: Mapping[str, Any], ctx: Context) -> dict:
    seeds, sweeps = _leave_sweeps(cfg, ctx)
    names = [*PAPER_METHODS, "no_correction"]
    gap = _curves(sweeps, {n: n for n in names}, "event_gap")
    forget = _curves(sweeps, {n: n for n in names}, "forget_gap")
    final_gap, acc = _finals(gap), {n: [_summary(r[n], "forget_acc") for r in sweeps] for n in names}
    acc["oracle"] = [_summary(r["proposed"], "oracle_forget_acc") for r in sweeps]
    return {
        "seeds": seeds,
        "event_gap": {n: describe(v) for n, v in gap.items()},
        "forget_gap": {n: describe(v) for n, v in forget.items()},
        "final": {
            "event_gap": {n: describe(v) for n, v in final_gap.items()},
            "forget_gap": {n: describe(v) for n, v in _finals(forget).items()},
            "forget_acc": {n: describe(v) for n, v in acc.items()},
        },
        "paired": {
            "event_gap_vs_proposed": _paired_vs(final_gap, "proposed", names),
            "event_gap_vs_no_correction": _paired_vs(final_gap, "no_correction", names),
            "forget_acc_vs_oracle": _paired_vs(acc, "oracle", [*names, "oracle"]),
        },
    }


def _seed_count(data: Mapping[str, Any]) -> int:
    return len(data.get("seeds", [None]))  # a data file from before --seeds holds one seed


def draw_fig3(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    gap = data["event_gap"]
    return plots.fig3(_means(gap), bands=_bands(gap), seeds=_seed_count(data))


def draw_fig3_minilm(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    gap = data["event_gap"]
    subject = "all-MiniLM-L6-v2, chatterbot-corpus topics"
    return plots.fig3(_means(gap), bands=_bands(gap), seeds=_seed_count(data), subject=subject)


def _means(by: Mapping[str, Any]) -> dict:
    return {n: mean_of(v) for n, v in by.items()}


def _bands(by: Mapping[str, Any]) -> dict:
    return {n: b for n, v in by.items() if (b := band_of(v)) is not None}


def compute_fig5(cfg: Mapping[str, Any], ctx: Context) -> dict:
    seeds, sweeps = _leave_sweeps(cfg, ctx)
    names = [*PAPER_METHODS, "no_correction"]
    retain = _curves(sweeps, {n: n for n in names}, "retain_loss")
    final = _finals(retain)
    return {
        "seeds": seeds,
        "retain_loss": {n: describe(v) for n, v in retain.items()},
        "oracle_retain_loss": describe(
            [float(np.nanmean(r["proposed"].series("oracle_retain_loss"))) for r in sweeps]
        ),
        "final": {"retain_loss": {n: describe(v) for n, v in final.items()}},
        "paired": {"retain_loss_vs_proposed": _paired_vs(final, "proposed", names)},
    }


def draw_fig5(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    loss = data["retain_loss"]
    return plots.fig5(
        _means(loss),
        oracle_retain_loss=mean_of(data["oracle_retain_loss"]),
        bands=_bands(loss),
        seeds=_seed_count(data),
    )


# --- fig6, fig7, fig8: the policy's ablation arms ----------------------------------------------------------
_ARM_RUNS = {a: f"arm:{a}" for a in PAPER_ARMS}


def compute_fig6(cfg: Mapping[str, Any], ctx: Context) -> dict:
    seeds, sweeps = _leave_sweeps(cfg, ctx)
    gap = _curves(sweeps, {**_ARM_RUNS, "no_correction": "no_correction"}, "event_gap")
    final = _finals(gap)
    return {
        "seeds": seeds,
        "event_gap": {a: describe(v) for a, v in gap.items()},
        "final": {"event_gap": {a: describe(v) for a, v in final.items()}},
        "paired": {
            "event_gap_vs_full": _paired_vs(final, "full", list(gap)),
            "event_gap_vs_no_correction": _paired_vs(final, "no_correction", list(gap)),
        },
    }


def draw_fig6(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    gap = data["event_gap"]
    return plots.fig6(_means(gap), bands=_bands(gap), seeds=_seed_count(data))


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
    seeds, sweeps = _leave_sweeps(cfg, ctx)
    cost = {a: [_summary(r[run], "norm_total") for r in sweeps] for a, run in _ARM_RUNS.items()}
    gap = {a: [_summary(r[run], "final_event_gap") for r in sweeps] for a, run in _ARM_RUNS.items()}
    final = {"norm_total": {a: describe(v) for a, v in cost.items()},
             "event_gap": {a: describe(v) for a, v in gap.items()}}  # fmt: skip
    points = {a: [final["norm_total"][a]["mean"], final["event_gap"][a]["mean"]] for a in PAPER_ARMS}
    return {
        "seeds": seeds,
        "points": points,  # the means over seeds
        "front": _pareto_front(points),
        "final": final,
        "paired": {
            "event_gap_vs_full": _paired_vs(gap, "full", PAPER_ARMS),
            "norm_total_vs_full": _paired_vs(cost, "full", PAPER_ARMS),
        },  # fmt: skip
    }


def draw_fig7(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.fig7(data["points"], front=data["front"])


def compute_fig8(cfg: Mapping[str, Any], ctx: Context) -> dict:
    from wirelora.evaluation.metrics import relative_improvement

    seeds, sweeps = _leave_sweeps(cfg, ctx)
    # RI on the event objective L = retain (+ join) loss: the gap crosses 0, where a ratio means nothing
    ri = {a: [] for a in PAPER_ARMS if a != "uniform"}
    for runs in sweeps:
        uniform = window_curve(runs["arm:uniform"], "retain_loss")
        for a in ri:
            ri[a].append(relative_improvement(uniform, window_curve(runs[f"arm:{a}"], "retain_loss")))
    final = _finals(ri)
    zero = [0.0] * len(seeds)
    return {
        "seeds": seeds,
        "ri": {a: describe(v) for a, v in ri.items()},
        "final": {"ri": {a: describe(v) for a, v in final.items()}},
        # RI is already a paired comparison (arm vs uniform on the same seed): its interval against 0
        "paired": {"ri_vs_uniform": {a: paired(v, zero, vs="uniform") for a, v in final.items()}},
    }


def draw_fig8(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.fig8(_means(data["ri"]))


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
TABLE3_KEYS = ("final_gap", "final_gap_avg10", "ri", "norm_comm", "norm_total", "stored_bytes", "forget_gap",
               "contribution_residual", "forget_acc", "oracle_forget_acc")  # fmt: skip


def compute_table3(cfg: Mapping[str, Any], ctx: Context) -> dict:
    from wirelora.evaluation.summary import table

    seeds, sweeps = _leave_sweeps(cfg, ctx)
    names = {a: ("no_correction" if a == "no_correction" else f"arm:{a}") for a in PAPER_TABLE3}
    tables = [{r["name"]: r for r in table({n: runs[n] for n in names.values()})} for runs in sweeps]
    values = {
        arm: {k: [np.nan if t[n].get(k) is None else float(t[n][k]) for t in tables] for k in TABLE3_KEYS}
        for arm, n in names.items()
    }
    return {
        "seeds": seeds,
        "rows": {arm: {k: describe(v) for k, v in by.items()} for arm, by in values.items()},
        "paired": {
            k: _paired_vs({a: values[a][k] for a in names}, "full", list(names))
            for k in ("final_gap", "ri", "forget_gap")
        },
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
    seeds = [int(config.seed) + s for s in range(ctx.seeds)]
    sweeps = seed_sweeps(config, [*methods, "arm:uniform"], cfg, ctx)
    failed = {}  # a method that fails on any seed is left out of every seed (comparisons stay paired)
    for s, (_, f) in zip(seeds, sweeps):
        for n, e in f.items():
            failed.setdefault(n, f"seed {s}: {e}")
    if "arm:uniform" in failed:
        raise RuntimeError(f"fig4: the uniform arm failed: {failed['arm:uniform']}")
    ri: dict[str, list] = {m: [] for m in methods if m not in failed}
    steps = None
    for runs, _ in sweeps:
        steps, uniform = _event_loss(runs["arm:uniform"])
        for n in ri:
            s, loss = _event_loss(runs[n])
            if not np.array_equal(s, steps):
                raise ValueError(f"fig4: {n} was evaluated at other rounds than the uniform arm")
            ri[n].append(relative_improvement(uniform, loss))
    stored = {n: describe([runs[n].meta["correction"].get("stored_bytes_per_device", 0.0)
                           for runs, _ in sweeps]) for n in ri}  # fmt: skip
    final = _finals(ri)
    return {
        "seeds": seeds,
        "steps": steps,
        "ri": {n: describe(v) for n, v in ri.items()},
        "events": event_marks(config),
        "stored_bytes_per_device": stored,
        "final_ri": {n: describe(v) for n, v in final.items()},
        "paired": {
            "final_ri_vs_proposed": _paired_vs(final, "proposed", list(ri) if "proposed" in ri else [])
        },
        "failed": failed,
    }


def draw_fig4(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.fig4(
        _means(data["ri"]), steps=data["steps"], events=data["events"], failed=list(data.get("failed", {}))
    )
