"""Gossip: per layer group on its sync rounds, exchange the copies over the group's graph and mix them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wirelora.correction.schedule import Schedule
from wirelora.distributed.backend import Backend
from wirelora.network.topology import damped_mixing, metropolis_weights

if TYPE_CHECKING:
    from wirelora.learning.state import TrainerState

__all__ = ["exchange"]


def exchange(state: TrainerState, schedule: Schedule, round_index: int, backend: Backend) -> dict[str, int]:
    """Per group on its sync rounds: B ← W(γ_g) B over the group's graph. Returns bits sent per group."""
    bits = {}
    rule = state.config.trainer.mixing_rule
    for g in state.group_names:
        gs = schedule.groups[g]
        if not gs.is_sync_round(round_index) or len(state.members) < 2:
            bits[g] = 0
            continue
        w = damped_mixing(metropolis_weights(gs.adjacency, rule=rule), gs.gamma)  # [M, M]
        mixed = backend.exchange({n: state.blocks[n] for n in state.groups[g]}, w)
        state.blocks.update(mixed)
        bits[g] = backend.sent_bits(gs.adjacency, state.payload_bits(g))
    return bits
