"""Checkpoints: the state's training fields, the History so far and the correction's state, in one
safetensors file with its tree in JSON and a SHA-256 (:mod:`wirelora.files`; written atomically, no pickle).
Loading checks the file's integrity and that it belongs to this run (round, members, layer shapes).
:func:`fork_checkpoint` lets another method continue a run's pre-event phase (one pre-event run per seed,
shared by every method of a sweep)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from wirelora.errors import CheckpointError
from wirelora.files import load_tree, save_tree
from wirelora.learning.events import Event
from wirelora.learning.history import History

if TYPE_CHECKING:
    from wirelora.learning.state import TrainerState

__all__ = ["CHECKPOINT_FILE", "save_checkpoint", "load_checkpoint", "fork_checkpoint"]

CHECKPOINT_FILE = "checkpoint.safetensors"


def save_checkpoint(path: Path, state: TrainerState, history: History, correction, round_done: int) -> None:
    payload = {
        "round": round_done,
        "members": state.members,
        "ghosts": state.ghosts,
        "blocks": {n: b.cpu() for n, b in state.blocks.items()},
        "opt": {n: {k: v.cpu() for k, v in o.items()} for n, o in state.opt.items()},
        "anchor": None if state.anchor is None else {n: b.cpu() for n, b in state.anchor.items()},
        "prox_weight": None
        if state.prox_weight is None
        else {n: b.cpu() for n, b in state.prox_weight.items()},
        "sets": state.sets,
        "event": None if state.event is None else dataclasses.asdict(state.event),
        "event_index": state.event_index,
        "oracle": None
        if state.oracle is None
        else {
            "blocks": {n: b.cpu() for n, b in state.oracle["blocks"].items()},
            "eval": state.oracle["eval"],
        },
        "slot_table": state.adapter.slot_table(),
        "history": history.to_json(),
        "correction": correction.state_dict() if hasattr(correction, "state_dict") else None,
    }
    save_tree(path, payload)  # atomic: a kill leaves the previous checkpoint intact


def load_checkpoint(path: Path, state: TrainerState, correction) -> tuple[int, History]:
    ck = load_tree(path)
    _check_belongs(path, ck, state)
    state.adapter.load_slot_table(ck["slot_table"])
    state.members = list(ck["members"])
    state.ghosts = list(ck["ghosts"])
    state.blocks = {n: b.to(state.device) for n, b in ck["blocks"].items()}
    state.opt = {n: {k: v.to(state.device) for k, v in o.items()} for n, o in ck["opt"].items()}
    state.anchor = None if ck["anchor"] is None else {n: b.to(state.device) for n, b in ck["anchor"].items()}
    state.prox_weight = (
        None if ck["prox_weight"] is None else {n: b.to(state.device) for n, b in ck["prox_weight"].items()}
    )
    state.sets = {k: tuple(v) for k, v in ck["sets"].items()}
    state.event = None if ck["event"] is None else Event(**ck["event"])
    state.event_index = ck["event_index"]
    state.oracle = (
        None
        if ck["oracle"] is None
        else {
            "blocks": {n: b.to(state.device) for n, b in ck["oracle"]["blocks"].items()},
            "eval": ck["oracle"]["eval"],
        }
    )
    state._sync_adapter()
    if ck["correction"] is not None and hasattr(correction, "load_state_dict"):
        correction.load_state_dict(ck["correction"])
    h = ck["history"]
    return int(ck["round"]) + 1, History(config=h["config"], rounds=h["rounds"], meta=h.get("meta", {}))


def fork_checkpoint(src: Path, dst: Path, config: dict, *, first_event: int) -> None:
    """Write to ``dst`` the checkpoint ``src`` with its History's config replaced by ``config`` (a resolved
    run config, as plain data), so that a run of ``config`` resumed from ``dst`` continues ``src``'s run.

    Only a checkpoint taken before the first event (round < ``first_event``, no event applied) may be forked:
    up to there every correction method is the same plain DGD, so the continued run's History is the one
    ``config`` run from round 0 would give. ``config`` must equal the checkpoint's config outside the
    ``correction`` and ``policy`` sections (which act only from the first event on). The correction state
    saved in ``src`` is handed to the new method's ``load_state_dict`` (methods read only their own keys).
    """
    ck = load_tree(src)
    name = f"checkpoint {str(src)!r}"
    if not isinstance(ck, dict) or (missing := [k for k in KEYS if k not in ck]):
        raise CheckpointError(f"{name}: missing {missing[0] if isinstance(ck, dict) else 'everything'}")
    if ck["event"] is not None or not ck["round"] < first_event:
        raise CheckpointError(
            f"{name}: round={ck['round']!r} is not before the first event (round {first_event}); "
            "only a pre-event checkpoint can be continued by another method"
        )
    old = ck["history"]["config"]

    def pre_event(c: dict) -> dict:
        out = {k: v for k, v in c.items() if k != "policy"}
        out["correction"] = {k: v for k, v in (c.get("correction") or {}).items() if k != "method"}
        return out

    a, b = pre_event(old), pre_event(config)
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            raise CheckpointError(f"{name}: its run config differs from this run's in {key!r}")
    ck["history"] = {**ck["history"], "config": config}
    save_tree(dst, ck)


KEYS = (
    "round",
    "members",
    "ghosts",
    "blocks",
    "opt",
    "anchor",
    "prox_weight",
    "sets",
    "event",
    "event_index",
    "oracle",
    "slot_table",
    "history",
    "correction",
)


def _check_belongs(path: Path, ck, state: TrainerState) -> None:
    """The checkpoint is this run's: every key, a round inside the run, known devices, this model's blocks."""
    name = f"checkpoint {str(path)!r}"
    if not isinstance(ck, dict) or (missing := [k for k in KEYS if k not in ck]):
        raise CheckpointError(f"{name}: missing {missing[0] if isinstance(ck, dict) else 'everything'}")
    rounds = state.config.trainer.rounds
    r = ck["round"]
    if not isinstance(r, int) or isinstance(r, bool) or not 0 <= r < rounds:
        raise CheckpointError(f"{name}: round={r!r}, but this run has rounds 0..{rounds - 1}")
    unknown = [d for d in ck["members"] if d not in state.task.devices]
    if unknown:
        raise CheckpointError(f"{name}: member {unknown[0]!r} is not a device of this run's task")
    blocks = ck["blocks"]
    if not isinstance(blocks, dict) or set(blocks) != set(state.blocks):
        raise CheckpointError(f"{name}: its layers are not this model's adapted layers")
    for n, b in blocks.items():
        want = tuple(state.blocks[n].shape[1:])
        if not isinstance(b, torch.Tensor) or tuple(b.shape[1:]) != want or b.shape[0] != len(ck["members"]):
            got = tuple(b.shape) if isinstance(b, torch.Tensor) else type(b).__name__
            raise CheckpointError(
                f"{name}: block {n!r} has shape {got}, expected ({len(ck['members'])}, *{want})"
            )
