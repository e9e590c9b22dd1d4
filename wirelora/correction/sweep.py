"""Running a correction method end to end, annotating its History, and sweeping all methods and arms.

:func:`run_method` runs a config in segments, one per membership event: the trainer runs up to the round
before
the event (``stop_after``, a checkpoint), the pre-event consensus, slot table and stored updates are read from
that checkpoint (EWC anchors to the first, FedEraser replays the last), and the run resumes with the method's
hooks. The History's rounds then gain (method.md §3, §9; issue 5): ``event_gap`` (retain + λ_j join, against
the oracle), ``forget_gap`` (KL(oracle ‖ model) on the leavers' inputs), ``event_gap_total`` (+ λ_f forget),
``contribution_residual``, ``latency_s``, ``energy_j``, ``edge_cost`` (from the joint round), ``local_steps``,
and the running ``norm_comm`` / ``norm_compute`` / ``norm_total`` relative to the uniform arm (whose costs are
computed from the same joint rounds, without training: costs do not depend on the weights). ``meta
["correction"]`` holds the run's summary: final and best gap, forget quality, membership inference, stored
bytes, the plan.

:func:`sweep` runs every method and ablation arm on one scenario, sharing the pre-event phase and the oracle,
and :func:`table` turns the Histories into the rows of Table III.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from wirelora.config import from_dict, to_dict
from wirelora.correction import config as _cfg
from wirelora.correction import joint as _joint
from wirelora.correction import plan as _plan
from wirelora.correction.baselines import CorrectionMethod, MethodContext, Recorder
from wirelora.evaluation import metrics as _metrics
from wirelora.evaluation.history import History
from wirelora.streams import stream
from wirelora.wireless.config import WirelessConfig

__all__ = ["parse_sections", "make_method", "run_method", "annotate", "sweep", "table", "SWEEP_ARMS"]

# The paper's ablation arms, each under the paper's Fisher priority (proposed runs the config's rule).
SWEEP_ARMS = ("full", "ls_prox", "local_steps", "retain_prox", "uniform", "topology")


def parse_sections(config) -> tuple[_cfg.CorrectionConfig, _cfg.PolicyConfig, WirelessConfig]:
    """The run's ``correction``, ``policy`` and ``wireless`` sections (typed and validated at load)."""
    return config.correction, config.policy, config.wireless


def _events(config) -> list:
    from wirelora.learning.events import sample_events, timeline

    pool = [f"d{i}" for i in range(config.task.num_devices)]
    initial = pool[: config.task.initial_devices]
    events = list(config.events) or sample_events(
        config.churn, initial, pool, config.trainer.rounds, seed=config.seed
    )
    return timeline(events, initial, pool, config.trainer.rounds)


def _positions(config, wireless: WirelessConfig) -> np.ndarray:
    from wirelora.wireless.channel import place_devices

    return place_devices(
        config.task.num_devices, wireless.radius_m, rng=stream("device_positions", config.seed)
    )


def _checkpoint(out: Path) -> dict:
    return torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=False)


def run_method(
    config,
    *,
    out_dir: str | Path | None = None,
    base_dir: str | Path | None = None,
    progress: bool = False,
    stop_after: int | None = None,
) -> History:
    """Run ``config`` with the correction named by ``config.correction.method`` and return its annotated
    History (saved in ``out_dir``). ``base_dir``: where the pre-event phase is kept, so that several methods
    share it (see :func:`sweep`). A run directory with a checkpoint is resumed where it stopped.
    ``stop_after``: stop (with a checkpoint, History not annotated) after this round, at or after the first
    event (for tests of resume)."""
    from wirelora.learning.loop import run

    cc, pc, wc = parse_sections(config)
    tmp = None
    if out_dir is None:
        tmp = tempfile.mkdtemp(prefix="wirelora-")
        out_dir = tmp
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    try:
        events = _events(config)
        ctx = MethodContext(
            correction=cc, policy=pc, wireless=wc, seed=config.seed, positions_m=_positions(config, wc)
        )
        method = CorrectionMethod(cc.method, ctx)
        if not events:
            history = run(config, correction=method, out_dir=out, progress=progress)
            return annotate(history, method, config)
        first = events[0].round
        if not (out / "checkpoint.pt").is_file():
            # the pre-event phase, shared through base_dir; a Recorder keeps FedEraser's stored updates
            base = Path(base_dir) if base_dir is not None else out
            if not (base / "checkpoint.pt").is_file() or _checkpoint(base)["round"] < first - 1:
                base.mkdir(parents=True, exist_ok=True)
                rec = Recorder(cc.federaser_interval)
                run(
                    config, correction=rec, out_dir=base, resume=True, stop_after=first - 1, progress=progress
                )
            if base != out:
                shutil.copy2(base / "checkpoint.pt", out / "checkpoint.pt")
        elif _checkpoint(out)["round"] < first - 1:  # resuming an interrupted pre-event phase
            rec = Recorder(cc.federaser_interval)
            run(config, correction=rec, out_dir=out, resume=True, stop_after=first - 1, progress=progress)
        history = None
        for k in range(len(events)):
            nxt = events[k + 1].round - 1 if k + 1 < len(events) else None
            ck = _checkpoint(out)
            if ck["round"] >= (nxt if nxt is not None else config.trainer.rounds - 1):
                continue  # this segment is done (a resumed run)
            if ck["round"] == events[k].round - 1:  # right before event k: what EWC and FedEraser read
                ctx.pre_event = {n: b.mean(dim=0) for n, b in ck["blocks"].items()}
                ctx.slots = {d: int(s) for d, s in ck["slot_table"]["members"]}
            stop = nxt if stop_after is None else (stop_after if nxt is None else min(nxt, stop_after))
            history = run(
                config, correction=method, out_dir=out, resume=True, stop_after=stop, progress=progress
            )
            if stop_after is not None and stop == stop_after:
                return history
        if history is None:  # a finished run: its History is already annotated
            return History.load(out)
        method.finish()
        history = annotate(history, method, config)
        history.save(out)
        return history
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _uniform_costs(method: CorrectionMethod, config, rounds: Sequence[int], members_by_round) -> dict:
    """Bits and local steps per round of the uniform arm over the same rounds and members (joint rounds
    only)."""
    cc, pc, wc = parse_sections(config)
    state = method._state
    plan = _plan.uniform_schedule(len(state.group_names), pc)
    pos_all = method.ctx.positions_m
    bps = config.trainer.bits_per_scalar
    bits, steps = {}, {}
    for r in rounds:
        members = members_by_round[r]
        payload = np.array(
            [
                bps
                * len(members)
                * sum(int(state.blocks[n].shape[1]) * state.adapter.rank(n) for n in state.groups[g])
                for g in state.group_names
            ],
            dtype=float,
        )
        pos = pos_all[state.task.index(members)]
        k = r - method.window[0] if method.window else r
        jr = _joint.joint_round(
            plan,
            round_index=r,
            payload_bits=payload,
            positions_m=pos,
            cfg=wc,
            seed=config.seed,
            correction_round=k,
        )
        shares = payload / payload.sum()
        bits[r] = jr.bits
        steps[r] = float(np.sum(plan.local_steps * shares) * len(members))
    return {"bits": bits, "local_steps": steps}


def annotate(history: History, method: CorrectionMethod, config) -> History:
    """Add the correction's per-round numbers and the run summary to ``history`` (in place; returned)."""
    cc, pc, wc = parse_sections(config)
    history.config = to_dict(config)  # a resumed segment carries the pre-event phase's config
    rounds = history.rounds
    by_round = {r["round"]: r for r in rounds}
    for r in rounds:
        m = method.measurements.get(r["round"])
        if m:
            r.update(m)
        if r.get("retain_loss") is not None and r.get("oracle_retain_loss") is not None:
            r["event_gap"] = float(
                _metrics.event_gap(
                    r["retain_loss"],
                    r["oracle_retain_loss"],
                    r.get("join_loss"),
                    r.get("oracle_join_loss"),
                    cc.lambda_j,
                )
            )
            if r.get("forget_gap") is not None:
                r["event_gap_total"] = float(
                    _metrics.total_event_gap(r["event_gap"], r["forget_gap"], cc.lambda_f)
                )
    for ev_round, post in method.post_event.items():
        rec = by_round.get(ev_round)
        if rec is None:
            continue
        oracle = {k[len("oracle_") :]: v for k, v in rec.items() if k.startswith("oracle_")}
        rec["post_event"] = dict(post)
        if post.get("retain_loss") is not None and oracle.get("retain_loss") is not None:
            rec["post_event"]["event_gap"] = float(
                _metrics.event_gap(
                    post["retain_loss"],
                    oracle["retain_loss"],
                    post.get("join_loss"),
                    oracle.get("join_loss"),
                    cc.lambda_j,
                )
            )
    summary: dict = {
        "method": method.kind,
        "arm": pc.arm if method.kind == "proposed" else None,
        "rule": pc.rule if method.kind == "proposed" else None,
        **method.costs,
    }
    if method.window is not None and method._state is not None:
        lo, hi = method.window
        window = [r for r in sorted(by_round) if lo <= r <= hi]
        uni = _uniform_costs(method, config, window, {r: by_round[r]["members"] for r in window})
        cum = {
            "bits": method.costs["extra_bits"],
            "steps": method.costs["extra_local_steps"],
            "ubits": 0.0,
            "usteps": 0.0,
        }
        for r in window:
            rec = by_round[r]
            cum["bits"] += float(rec.get("bits_sent") or 0.0)
            cum["steps"] += float(rec.get("local_steps") or 0.0)
            cum["ubits"] += uni["bits"][r]
            cum["usteps"] += uni["local_steps"][r]
            if cum["ubits"] > 0 and cum["usteps"] > 0:
                rec["norm_comm"] = cum["bits"] / cum["ubits"]
                rec["norm_compute"] = cum["steps"] / cum["usteps"]
                rec["norm_total"] = 0.5 * (rec["norm_comm"] + rec["norm_compute"])
        gaps = [by_round[r]["event_gap"] for r in window if by_round[r].get("event_gap") is not None]
        post = method.post_event.get(lo, {})
        post_gap = by_round[lo].get("post_event", {}).get("event_gap")
        curve = ([post_gap] if post_gap is not None else []) + gaps
        last = by_round[window[-1]]
        summary.update(
            {
                "window": [lo, hi],
                "event_gap_curve": curve,
                "stability": _metrics.best_vs_final(curve) if curve else None,
                "final_event_gap": gaps[-1] if gaps else None,
                "final_event_gap_avg10": float(np.mean(gaps[-10:])) if gaps else None,
                "final_event_loss": _event_loss(last, cc.lambda_j),
                "final_forget_gap": last.get("forget_gap"),
                "final_contribution_residual": last.get("contribution_residual"),
                "post_event_contribution_residual": post.get("contribution_residual"),
                "norm_comm": last.get("norm_comm"),
                "norm_compute": last.get("norm_compute"),
                "norm_total": last.get("norm_total"),
                "bits": cum["bits"],
                "local_steps": cum["steps"],
                "latency_s": float(sum(by_round[r].get("latency_s") or 0.0 for r in window)),
                "energy_j": float(sum(by_round[r].get("energy_j") or 0.0 for r in window)),
                "forget_acc": last.get("forget_acc"),
                "oracle_forget_acc": last.get("oracle_forget_acc"),
                "forget_loss": last.get("forget_loss"),
                "oracle_forget_loss": last.get("oracle_forget_loss"),
                **method.membership(method._state),
            }
        )
        mia = {k: summary.get(f"mia_auc_{k}") for k in ("model", "oracle")}
        if last.get("forget_acc") is not None and last.get("oracle_forget_acc") is not None:
            summary["forget_quality"] = _metrics.forget_quality(
                loss=last["forget_loss"],
                accuracy=last["forget_acc"],
                oracle_loss=last["oracle_forget_loss"],
                oracle_accuracy=last["oracle_forget_acc"],
                mia_auc=mia["model"],
                oracle_mia_auc=mia["oracle"],
            )
        if method.plan is not None:
            summary["plan"] = {k: to_dict(v) for k, v in dataclasses.asdict(method.plan).items()}
    history.meta["correction"] = summary
    return history


def _event_loss(rec: dict, lambda_j: float) -> float | None:
    """L_evt without its forget part: retain loss + λ_j join loss (join omitted when there is no joiner)."""
    if rec.get("retain_loss") is None:
        return None
    join = lambda_j * rec["join_loss"] if rec.get("join_loss") is not None else 0.0
    return float(rec["retain_loss"] + join)


def sweep(
    config,
    *,
    out_dir: str | Path,
    methods: Sequence[str] = _cfg.METHODS,
    arms: Sequence[str] = SWEEP_ARMS,
    progress: bool = False,
) -> dict[str, History]:
    """Every method (``proposed`` = the full arm) and every other ablation arm on one scenario.

    The pre-event phase runs once (``out_dir/pre-event``) and the oracle is cached once (``out_dir/oracle``).
    Returns {name: History}: the method names, and ``arm:<arm>`` for the arms.
    """
    out = Path(out_dir)
    base = out / "pre-event"
    raw = to_dict(config)
    raw["oracle"]["cache_dir"] = str(out / "oracle")
    runs = [(m, {"method": m}, {}) for m in methods]
    runs += [(f"arm:{a}", {"method": "proposed"}, {"arm": a, "rule": "fisher"}) for a in arms]
    results = {}
    for name, corr, pol in runs:
        r = dict(raw)
        r["correction"] = {**(raw.get("correction") or {}), **corr}
        r["policy"] = {**raw.get("policy", {}), **pol}
        cfg = from_dict(type(config), r)
        results[name] = run_method(
            cfg, out_dir=out / name.replace(":", "-"), base_dir=base, progress=progress
        )
    return results


def table(histories: dict[str, History], *, uniform: str = "arm:uniform") -> list[dict]:
    """Table III's rows: final event gap (and its mean over the last 10 rounds), RI = 100 (L_u − L) / L_u on
    the final event loss (retain + λ_j join; the paper's RI is on losses) against the uniform arm, NormComm,
    NormTotal, stored bytes per device, and the forget quality."""
    ref = histories[uniform].meta["correction"]["final_event_loss"]
    rows = []
    for name, h in histories.items():
        s = h.meta["correction"]
        gap = s.get("final_event_gap")
        loss = s.get("final_event_loss")
        rows.append(
            {
                "name": name,
                "final_gap": gap,
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


def make_method(config) -> CorrectionMethod:
    """The correction object of ``config`` (its correction and policy sections) for ``trainer.run``."""
    cc, pc, wc = parse_sections(config)
    ctx = MethodContext(
        correction=cc, policy=pc, wireless=wc, seed=config.seed, positions_m=_positions(config, wc)
    )
    return CorrectionMethod(cc.method, ctx)
