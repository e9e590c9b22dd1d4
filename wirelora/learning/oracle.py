"""The oracle: retrain from scratch on the post-event members' data (same model and slots), cached.

Decentralised (the default; a fixed number of DGD rounds) or, with ``oracle.kind: central``, the certified
centralised oracle of :mod:`wirelora.learning.oracle_central`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from wirelora.config import to_jsonable
from wirelora.correction.schedule import uniform_schedule
from wirelora.distributed.backend import InProcessBackend
from wirelora.errors import CheckpointError
from wirelora.files import load_tree, save_tree
from wirelora.learning.gossip import exchange
from wirelora.learning.oracle_central import train_central_oracle
from wirelora.learning.step import local_steps

if TYPE_CHECKING:
    from wirelora.learning.state import TrainerState

__all__ = ["train_oracle"]


def _oracle_key(state: TrainerState, members: Sequence[str]) -> str:
    cfg = state.config
    ident = {
        "seed": state.seed,
        "model": to_jsonable(cfg.model),
        "task": to_jsonable(cfg.task),
        "trainer": {
            k: v
            for k, v in to_jsonable(cfg.trainer).items()
            if k in ("batch_size", "ownership", "step_size", "mixing_rule", "optimizer", "vectorised")
        },
        "oracle": {k: v for k, v in to_jsonable(cfg.oracle).items() if k != "cache_dir"},
        "members": list(members),
        "slots": [state.adapter.slot_of(d) for d in members],
        "draws": state.adapter.slot_table()["slot_draws"],  # independent bases: which draw fills each slot
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:20]


def train_oracle(state: TrainerState, cache_dir: Path | None) -> dict[str, torch.Tensor]:
    """Retrain from zero on the current members' data in their slots; {layer: [out, S]} (cached by key).

    ``oracle.kind: central``: the certified centralised oracle (:mod:`wirelora.learning.oracle_central`); its
    certificate is left in ``state.oracle_certificate`` (None for the decentralised oracle)."""
    oc = state.config.oracle
    key = _oracle_key(state, state.members)
    path = None if cache_dir is None else Path(cache_dir) / f"oracle-{key}.safetensors"
    if path is not None and path.is_file():
        saved = load_tree(path)
        cert = saved.pop("certificate", None) if isinstance(saved, dict) else None
        if not isinstance(saved, dict) or set(saved) != set(state.layer_names):
            raise CheckpointError(f"oracle cache {str(path)!r}: its layers are not this model's")
        state.oracle_certificate = cert
        return {n: saved[n].to(state.device) for n in state.layer_names}
    if oc.kind == "central":
        result, cert = train_central_oracle(state)
        state.oracle_certificate = cert
        _save(path, {**{n: t.cpu() for n, t in result.items()}, "certificate": cert})
        return result
    # A scratch copy of the state's training fields: same members and slots, blocks from zero, no prox.
    saved = (state.blocks, state.anchor, state.prox_weight, state.opt)
    state.blocks = {n: torch.zeros_like(b) for n, b in state.blocks.items()}
    state.opt = state.fresh_moments(len(state.members))
    state.anchor, state.prox_weight = None, None
    try:
        tc = state.config.trainer
        step = oc.step_size if oc.step_size is not None else tc.step_size
        sched = uniform_schedule(
            state.group_names,
            state.members,
            0,
            local_steps=oc.local_steps,
            step_size=step,
            prox=0.0,
            gamma=1.0,
            sync_period=1,
            density=1.0,
            graph="complete",
            seed=state.seed,
        )
        backend = InProcessBackend()
        tag = 1000 + state.event_index
        for r in range(oc.rounds):
            local_steps(state, sched, r, None, tag=tag)
            exchange(state, sched, r, backend)
        result = state.consensus()
    finally:
        state.blocks, state.anchor, state.prox_weight, state.opt = saved
    _save(path, {n: t.cpu() for n, t in result.items()})
    return result


def _save(path: Path | None, payload: dict) -> None:
    if path is not None:
        save_tree(path, payload)
