"""Checkpoints: the state's training fields, the History so far and the correction's state (atomic)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from wirelora.evaluation.history import History
from wirelora.learning.events import Event

if TYPE_CHECKING:
    from wirelora.learning.state import TrainerState

__all__ = ["CHECKPOINT_FILE", "save_checkpoint", "load_checkpoint"]

CHECKPOINT_FILE = "checkpoint.pt"


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
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(payload, tmp)
    os.replace(tmp, path)  # atomic: a kill leaves the previous checkpoint intact


def load_checkpoint(path: Path, state: TrainerState, correction) -> tuple[int, History]:
    ck = torch.load(path, map_location=state.device, weights_only=False)
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
