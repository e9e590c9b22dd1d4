"""The round loop: ``run(config, *, seed) -> History`` reads top to bottom, once per round k (method.md §3):

    event: correction.before_event → (leave: project the leaver out of every copy; join: new slot, warm
    start) → oracle → correction.on_event
    → schedule (per layer group g: n_g, η_g, λ_g, γ_g, H_g, graph)
    → n_g local steps per group, every device at once, each on its own data and only its own block (block
      ownership), with the proximal term (λ_g/2)‖B − B_anchor‖²
    → per group on sync rounds (k mod H_g = 0): exchange over the group's graph, mix with W(γ_g)
    → record (+ correction.after_round) → after the last round: correction.finish → checkpoint

The run's correction is the config's own (``correction`` / ``policy`` sections, built by
:func:`wirelora.correction.methods.build`) unless ``correction=`` gives other hooks; a correction with a
``report`` is summarised (:func:`wirelora.evaluation.summary.summarize`) into the returned and saved History,
from the checkpointed History and the correction's checkpointed state, so a resumed run always has its
summary. The state is :class:`~wirelora.learning.state.TrainerState`; the hooks are listed in
:class:`~wirelora.learning.hooks.Correction`; ``Schedule.record`` numbers (latency_s, ...) are copied into the
History round; ``backend`` (:class:`wirelora.distributed.backend.Backend`) runs the local steps and the
exchange step, and says whether this process records the History (one process of a multi-process run does).
Default schedule: the trainer config's n, η, λ, γ, H for every group, with a per-group graph (``random``:
connected, redrawn every round from (seed, round, group); ``fixed``, ``complete``, ``ring`` or ``edges``). The
prox anchor after an event is the post-event, post-projection consensus; before the first event there is none.
Same seed → the same History bit for bit on CPU, except ``wall_time_s``. A finished run with ``out_dir``
also writes ``out_dir/adapter/``: the final consensus as a standard peft adapter (``wirelora export``).
Progress goes to this module's logger: INFO for the start, a resume and each event, DEBUG for each evaluated
round (``wirelora run --verbose``); ``tensorboard=DIR`` also writes each round as TensorBoard scalars
(:class:`wirelora.learning.tracking.TensorBoardWriter`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from wirelora.config import to_jsonable
from wirelora.correction.schedule import Schedule
from wirelora.distributed.backend import Backend, InProcessBackend
from wirelora.learning.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from wirelora.learning.config import RunConfig
from wirelora.learning.events import Event, sample_events, timeline
from wirelora.learning.history import History, MetricsLog
from wirelora.learning.hooks import Correction
from wirelora.learning.oracle import train_oracle
from wirelora.learning.probes import SETS
from wirelora.learning.state import TrainerState
from wirelora.learning.step import check_blocks
from wirelora.provenance import provenance

__all__ = ["ADAPTER_DIR", "run"]

ADAPTER_DIR = "adapter"  # out_dir/adapter: the final consensus as a peft adapter (OrthogonalLoRA.to_peft)

_log = logging.getLogger(__name__)


def run(
    config: RunConfig,
    *,
    seed: int | None = None,
    correction: Correction | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    backend: Backend | None = None,
    progress: bool = False,
    stop_after: int | None = None,
    tensorboard: str | Path | None = None,
) -> History:
    """Run ``config`` (with its correction) and return its History (also saved to ``out_dir/history.json``).

    seed: overrides ``config.seed``. correction: hooks of :class:`Correction` in place of the config's
    correction (None = the config's; plain uniform DGD with the leave projection when it has none).
    out_dir + resume=True: continue from ``out_dir/checkpoint.safetensors`` if it exists (a finished run is
    only summarised again). stop_after: stop (with a checkpoint) after this round — for tests of resume.
    tensorboard: a directory for TensorBoard event files (one scalar per History number and round).
    """
    state, events, history, config = _setup(config, seed)
    if correction is None:
        correction = _configured_correction(config)
    tc, backend = config.trainer, backend or InProcessBackend()
    out = None if out_dir is None else Path(out_dir)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    ck_path = None if out is None else out / CHECKPOINT_FILE
    cache_dir = _oracle_cache(config, out)
    project = bool(getattr(correction, "project_on_leave", True))
    start = 0
    source = backend.resume_from(ck_path if resume else None)
    if source is not None:
        start, history = load_checkpoint(source, state, correction)
        was = history.meta.get("threads")
        if was is not None and was != torch.get_num_threads():
            warnings.warn(
                f"resuming with {torch.get_num_threads()} threads a run checkpointed with {was}: the History "
                "may differ in the last digits from an uninterrupted run (set trainer.threads)",
                RuntimeWarning,
                stacklevel=2,
            )
    log = None if out is None else MetricsLog(out, history.rounds)
    _log_start(config, start, state)
    tracker = None
    if tensorboard is not None:
        from wirelora.learning.tracking import TensorBoardWriter

        tracker = TensorBoardWriter(tensorboard, start_round=start)
    bar = _progress_bar(config, start) if progress and start < tc.rounds else None
    try:
        for r in range(start, tc.rounds):
            if stop_after is not None and r > stop_after:
                break
            t0 = time.perf_counter()
            state.round = r
            event = events.get(r)
            if event is not None:
                _log.info("round %d: %s", r, _describe(event))
                _hook(correction, "before_event", state, event)
                state.apply_event(event, project=project)
                if config.oracle.enabled:
                    ob = train_oracle(state, cache_dir)
                    state.oracle = {"blocks": ob, "eval": state.evaluate(ob)}
                    if state.oracle_certificate is not None:  # oracle.kind: central
                        history.meta.setdefault("oracle", []).append({"round": r, **state.oracle_certificate})
                _hook(correction, "on_event", state, event)
            schedule = _hook(correction, "schedule", state, r) or state.default_schedule(r)
            schedule = backend.agree(schedule, r)
            schedule.check(state.group_names, len(state.members), r)
            train_loss = backend.local_steps(state, schedule, r, correction)
            bits = state.exchange(schedule, r, backend)
            check_blocks(state, r)
            if not backend.is_writer:  # another process records the History; the hooks still run here
                _hook(correction, "after_round", state, r)
            else:
                record = _record(state, r, schedule, bits, train_loss, event, time.perf_counter() - t0)
                record.update(_hook(correction, "after_round", state, r) or {})
                history.append(record)
                if log is not None:
                    log.append(history.rounds[-1])
                if tracker is not None:
                    tracker.append(history.rounds[-1])
                _log_round(history.rounds[-1], tc.rounds)
                _advance(bar, history.rounds[-1])
            last = r == tc.rounds - 1
            if last:
                _hook(correction, "finish", state)
            done = last or (stop_after is not None and r >= stop_after)
            if ck_path is not None and (done or (tc.checkpoint_every and (r + 1) % tc.checkpoint_every == 0)):
                save_checkpoint(ck_path, state, history, correction, r)
                _summarized(history, correction).save(out)
    finally:
        if bar is not None:
            bar.close()
        if tracker is not None:
            tracker.close()
    result = _summarized(history, correction)
    if out is not None:
        result.save(out)
        if len(history.rounds) == tc.rounds and state.members:  # finished: the consensus as a peft adapter
            state._sync_adapter()
            state.adapter.to_peft(out / ADAPTER_DIR, root=state.peft_root)
    return result


def _hook(correction, name: str, *args):
    """Call the correction's hook ``name`` if it has one (every hook is optional); None otherwise."""
    fn = getattr(correction, name, None)
    return None if fn is None else fn(*args)


def _configured_correction(config: RunConfig):
    """The correction method of the config's ``correction`` / ``policy`` sections; None if it has none."""
    if config.correction is None:
        return None
    from wirelora.correction import methods

    ctx = methods.MethodContext.from_config(config)
    return methods.build(ctx.correction.method, ctx)


def _summarized(history: History, correction) -> History:
    """The History with the correction's derived numbers and summary (a pure function of the checkpointed
    History and the correction's state), or ``history`` itself for hooks without a ``report``."""
    report = getattr(correction, "report", None)
    if report is None:
        return history
    from wirelora.evaluation.summary import summarize

    return summarize(history, report())


def _setup(config: RunConfig, seed: int | None) -> tuple[TrainerState, dict[int, Event], History, RunConfig]:
    """The state, the events by round and the empty History of ``config`` run with ``seed``."""
    seed = config.seed if seed is None else int(seed)
    if seed != config.seed:
        config = dataclasses.replace(config, seed=seed)
    tc = config.trainer
    if tc.threads and not (tc.device == "cuda" or (tc.device == "auto" and torch.cuda.is_available())):
        torch.set_num_threads(tc.threads)  # tiny models: one thread beats two fighting over a shared CPU
    state = TrainerState(config, seed=seed)
    events = list(config.events) or sample_events(
        config.churn, state.task.initial, state.task.devices, tc.rounds, seed=seed
    )
    events = {e.round: e for e in timeline(events, state.task.initial, state.task.devices, tc.rounds)}
    history = History(
        config=to_jsonable(config),
        meta={
            "events": [dataclasses.asdict(e) for e in events.values()],
            "groups": state.groups,
            "device": str(state.device),
            "threads": torch.get_num_threads(),  # float reductions depend on it (trainer.threads fixes it)
            "provenance": provenance(),
        },
    )
    return state, events, history, config


def _oracle_cache(config: RunConfig, out: Path | None) -> Path | None:
    if not config.oracle.enabled:
        return None
    return Path(config.oracle.cache_dir) if config.oracle.cache_dir else (out / "oracle" if out else None)


def _progress_bar(config: RunConfig, start: int):
    from wirelora.progress import progress_bar

    return progress_bar(total=config.trainer.rounds, initial=start, desc=config.name, unit="round")


_ROUND_KEYS = ("train_loss", "retain_loss", "forget_loss", "join_loss", "retain_acc", "forget_acc")


def _log_start(config: RunConfig, start: int, state: TrainerState) -> None:
    rounds, devices = config.trainer.rounds, len(state.members)
    if start >= rounds:
        _log.info("%s: finished already (%d rounds), summarising", config.name, rounds)
    elif start > 0:
        _log.info("%s: resuming at round %d of %d from the checkpoint", config.name, start, rounds)
    else:
        _log.info("%s: %d rounds, %d devices, on %s", config.name, rounds, devices, state.device)


def _describe(event: Event) -> str:
    parts = [f"{', '.join(event.leave)} leave{'s' * (len(event.leave) == 1)}"] if event.leave else []
    parts += [f"{', '.join(event.join)} join{'s' * (len(event.join) == 1)}"] if event.join else []
    return "; ".join(parts) or "no change"


def _log_round(last: dict, rounds: int) -> None:
    """One DEBUG line per evaluated round (a round without a retain loss was not evaluated)."""
    if last.get("retain_loss") is None or not _log.isEnabledFor(logging.DEBUG):
        return
    values = ", ".join(f"{k} {last[k]:.4f}" for k in _ROUND_KEYS if last.get(k) is not None)
    distance = last["consensus_distance"]
    _log.debug("round %d/%d: %s, consensus_distance %.3g", last["round"], rounds - 1, values, distance)


def _advance(bar, last: dict) -> None:
    if bar is None:
        return
    keys = ("train_loss", "retain_loss", "forget_loss")
    bar.set_postfix({k: f"{last[k]:.3f}" for k in keys if last.get(k) is not None}, refresh=False)
    bar.update(1)


def _record(
    state: TrainerState,
    r: int,
    schedule: Schedule,
    bits: dict[str, int],
    train_loss: float,
    event: Event | None,
    wall_s: float,
) -> dict:
    tc = state.config.trainer
    rec: dict[str, Any] = {
        "round": r,
        "members": list(state.members),
        "event": None if event is None else {"leave": list(event.leave), "join": list(event.join)},
    }
    evaluated = r % tc.eval_every == 0 or r == tc.rounds - 1
    ev = state.evaluate() if evaluated else {f"{s}_{k}": None for s in SETS for k in ("loss", "acc")}
    rec.update(ev)
    rec["device_losses"] = state.device_set_losses() if evaluated and tc.device_losses else None
    if state.oracle is not None:
        rec.update({f"oracle_{k}": v for k, v in state.oracle["eval"].items()})
    rec["consensus_distance"] = state.consensus_distance()
    rec["consensus_distance_group"] = {g: state.consensus_distance(g) for g in state.group_names}
    rec["bits_sent"] = int(sum(bits.values()))
    rec["bits_sent_group"] = {g: int(b) for g, b in bits.items()}
    rec["schedule"] = {
        g: {**schedule.groups[g].to_record(state.members), "sync": schedule.groups[g].is_sync_round(r)}
        for g in state.group_names
    }
    rec["train_loss"] = train_loss
    rec.update({k: float(v) for k, v in schedule.record.items()})
    rec["wall_time_s"] = wall_s
    return rec
