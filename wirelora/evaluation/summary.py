"""A correction run's metrics as pure functions of its History and of its method's report (docs/method.md §9).

Nothing here mutates its input or re-runs anything. Per round (:func:`event_gaps`, :func:`post_event_gap`,
:func:`cumulative_costs`): ``event_gap`` (retain + λ_j join, against the oracle), ``event_gap_total``
(+ λ_f forget_gap), the post-event record's gap, and in the correction window the running ``norm_comm`` /
``norm_compute`` / ``norm_total`` relative to the uniform arm (whose bits and local steps per round the method
priced while the round ran). :func:`run_summary` is ``meta["correction"]``: final and best gap, costs, forget
quality, membership inference, the plan. :func:`summarize` returns the History with all of it, and
:func:`table` turns summarised Histories into the rows of Table III.

``report`` is :meth:`wirelora.correction.methods.base.Correction.report`: plain data with the method, arm,
rule, lambda_j, lambda_f, costs (stored_bytes_per_device, extra_local_steps, extra_bits), window ([first,
last] round of the last correction), uniform ({round: {bits, local_steps}}), membership, plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from wirelora.evaluation import metrics as _metrics
from wirelora.learning.history import History

__all__ = [
    "event_gaps",
    "post_event_gap",
    "event_loss",
    "cumulative_costs",
    "run_summary",
    "summarize",
    "table",
]


def event_gaps(record: Mapping[str, Any], *, lambda_j: float, lambda_f: float) -> dict[str, float]:
    """``event_gap`` and (with a forget gap) ``event_gap_total`` of one round; {} without an oracle."""
    if record.get("retain_loss") is None or record.get("oracle_retain_loss") is None:
        return {}
    gap = float(
        _metrics.event_gap(
            record["retain_loss"],
            record["oracle_retain_loss"],
            record.get("join_loss"),
            record.get("oracle_join_loss"),
            lambda_j,
        )
    )
    out = {"event_gap": gap}
    if record.get("forget_gap") is not None:
        out["event_gap_total"] = float(_metrics.total_event_gap(gap, record["forget_gap"], lambda_f))
    return out


def post_event_gap(record: Mapping[str, Any], *, lambda_j: float) -> float | None:
    """The event gap of the round's ``post_event`` numbers (right after the event's correction action, before
    its local steps) against the round's oracle; None where either is missing."""
    post = record.get("post_event")
    if post is None or post.get("retain_loss") is None or record.get("oracle_retain_loss") is None:
        return None
    return float(
        _metrics.event_gap(
            post["retain_loss"],
            record["oracle_retain_loss"],
            post.get("join_loss"),
            record.get("oracle_join_loss"),
            lambda_j,
        )
    )


def event_loss(record: Mapping[str, Any], *, lambda_j: float) -> float | None:
    """L_evt without its forget part: retain loss + λ_j join loss (join omitted when there is no joiner)."""
    if record.get("retain_loss") is None:
        return None
    join = lambda_j * record["join_loss"] if record.get("join_loss") is not None else 0.0
    return float(record["retain_loss"] + join)


def cumulative_costs(
    window: Sequence[Mapping[str, Any]],
    uniform: Mapping[int, Mapping[str, float]],
    *,
    extra_bits: float,
    extra_local_steps: float,
) -> list[dict[str, float]]:
    """Per round of the correction window : [K]: the bits and local steps spent so far (the one-off extras
    first, then each round's ``bits_sent`` / ``local_steps``), the uniform arm's so far, and where the latter
    are > 0 the ``norm_comm`` / ``norm_compute`` / ``norm_total`` ratios (metrics.normalised_costs)."""
    bits, steps, ubits, usteps = float(extra_bits), float(extra_local_steps), 0.0, 0.0
    out = []
    for rec in window:
        bits += float(rec.get("bits_sent") or 0.0)
        steps += float(rec.get("local_steps") or 0.0)
        ubits += uniform[rec["round"]]["bits"]
        usteps += uniform[rec["round"]]["local_steps"]
        row = {"bits": bits, "local_steps": steps, "uniform_bits": ubits, "uniform_local_steps": usteps}
        if ubits > 0 and usteps > 0:
            spent = _metrics.CostSummary(rounds=0, local_steps=steps, bits=bits, stored_bytes_per_device=0.0)
            ref = _metrics.CostSummary(rounds=0, local_steps=usteps, bits=ubits, stored_bytes_per_device=0.0)
            row.update(_metrics.normalised_costs(spent, ref))
        out.append(row)
    return out


def _window(rounds: Sequence[Mapping[str, Any]], report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if report.get("window") is None:
        return []
    lo, hi = report["window"]
    return [r for r in rounds if lo <= r["round"] <= hi]


def run_summary(rounds: Sequence[Mapping[str, Any]], report: Mapping[str, Any]) -> dict[str, Any]:
    """``meta["correction"]`` of a run from its per-round records (with the derived values of
    :func:`summarize`) and its method's report."""
    costs = report["costs"]
    summary: dict[str, Any] = {
        "method": report["method"],
        "arm": report["arm"],
        "rule": report["rule"],
        **costs,
    }
    window = _window(rounds, report)
    if not window:
        return summary
    spent = cumulative_costs(
        window,
        report["uniform"],
        extra_bits=costs["extra_bits"],
        extra_local_steps=costs["extra_local_steps"],
    )[-1]
    gaps = [r["event_gap"] for r in window if r.get("event_gap") is not None]
    post = window[0].get("post_event") or {}
    curve = ([post["event_gap"]] if post.get("event_gap") is not None else []) + gaps
    last = window[-1]
    membership = report["membership"]
    summary.update(
        {
            "window": list(report["window"]),
            "event_gap_curve": curve,
            "stability": _metrics.best_vs_final(curve) if curve else None,
            "final_event_gap": gaps[-1] if gaps else None,
            "final_event_gap_avg10": float(np.mean(gaps[-10:])) if gaps else None,
            "final_event_loss": event_loss(last, lambda_j=report["lambda_j"]),
            "final_forget_gap": last.get("forget_gap"),
            "final_contribution_residual": last.get("contribution_residual"),
            "post_event_contribution_residual": post.get("contribution_residual"),
            "norm_comm": last.get("norm_comm"),
            "norm_compute": last.get("norm_compute"),
            "norm_total": last.get("norm_total"),
            "bits": spent["bits"],
            "local_steps": spent["local_steps"],
            "latency_s": float(sum(r.get("latency_s") or 0.0 for r in window)),
            "energy_j": float(sum(r.get("energy_j") or 0.0 for r in window)),
            "forget_acc": last.get("forget_acc"),
            "oracle_forget_acc": last.get("oracle_forget_acc"),
            "forget_loss": last.get("forget_loss"),
            "oracle_forget_loss": last.get("oracle_forget_loss"),
            **membership,
        }
    )
    if last.get("forget_acc") is not None and last.get("oracle_forget_acc") is not None:
        summary["forget_quality"] = _metrics.forget_quality(
            loss=last["forget_loss"],
            accuracy=last["forget_acc"],
            oracle_loss=last["oracle_forget_loss"],
            oracle_accuracy=last["oracle_forget_acc"],
            mia_auc=membership.get("mia_auc_model"),
            oracle_mia_auc=membership.get("mia_auc_oracle"),
        )
    if report.get("plan") is not None:
        summary["plan"] = report["plan"]
    return summary


def summarize(history: History, report: Mapping[str, Any]) -> History:
    """A new History: every round with its event gaps, the post-event gap, the window's running normalised
    costs, and ``meta["correction"]`` = :func:`run_summary`. ``history`` is left as it was."""
    lambda_j, lambda_f = report["lambda_j"], report["lambda_f"]
    rounds = []
    for old in history.rounds:
        rec = {**old, **event_gaps(old, lambda_j=lambda_j, lambda_f=lambda_f)}
        if "post_event" in old:
            gap = post_event_gap(old, lambda_j=lambda_j)
            rec["post_event"] = {**old["post_event"], **({} if gap is None else {"event_gap": gap})}
        rounds.append(rec)
    window = _window(rounds, report)
    costs = report["costs"]
    spent = cumulative_costs(
        window,
        report["uniform"],
        extra_bits=costs["extra_bits"],
        extra_local_steps=costs["extra_local_steps"],
    )
    for rec, row in zip(window, spent):
        rec.update({k: row[k] for k in ("norm_comm", "norm_compute", "norm_total") if k in row})
    meta = {**history.meta, "correction": run_summary(rounds, report)}
    return History(config=history.config, rounds=rounds, meta=meta)


def table(histories: Mapping[str, History], *, uniform: str = "arm:uniform") -> list[dict]:
    """Table III's rows: final event gap (and its mean over the last 10 rounds), RI = 100 (L_u − L) / L_u on
    the final event loss (retain + λ_j join; the paper's RI is on losses) against the uniform arm, NormComm,
    NormTotal, stored bytes per device, and the forget quality."""
    ref = histories[uniform].meta["correction"]["final_event_loss"]
    rows = []
    for name, h in histories.items():
        s = h.meta["correction"]
        loss = s.get("final_event_loss")
        rows.append(
            {
                "name": name,
                "final_gap": s.get("final_event_gap"),
                "final_gap_avg10": s.get("final_event_gap_avg10"),
                "ri": None if loss is None or not ref else float(_metrics.relative_improvement(ref, loss)),
                "norm_comm": s.get("norm_comm"),
                "norm_total": s.get("norm_total"),
                "stored_bytes": s.get("stored_bytes_per_device", 0.0),
                "forget_gap": s.get("final_forget_gap"),
                "contribution_residual": s.get("final_contribution_residual"),
                "forget_acc": s.get("forget_acc"),
                "oracle_forget_acc": s.get("oracle_forget_acc"),
                "best_gap": (s.get("stability") or {}).get("best"),
                "mia_auc": s.get("mia_auc_model"),
                "oracle_mia_auc": s.get("mia_auc_oracle"),
            }
        )
    return rows
