"""Membership events: a leave projects the leaver out of every copy, a join opens a slot, warm-started."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from wirelora.correction.schedule import uniform_schedule
from wirelora.learning.events import Event
from wirelora.learning.step import local_steps
from wirelora.learning.tasks import event_sets

if TYPE_CHECKING:
    from wirelora.learning.state import TrainerState

__all__ = ["apply_event"]


def apply_event(state: TrainerState, event: Event, *, project: bool) -> None:
    """Leave: project the leavers out of every copy (or keep them, ``project=False``) and drop their rows;
    join: a new slot, a row initialised to the consensus (its own block zero), and a warm start of the
    joiner's block on its own data. Then the sets, the prox anchor (the post-event consensus)."""
    before = list(state.members)
    state._sync_adapter()
    for u in event.leave:
        if project:
            for n in state.layer_names:
                state.blocks[n] = state.adapter.project_out(state.blocks[n], n, u)
            state.adapter.remove_device(u)
        else:
            state.ghosts.append(u)
        keep = torch.as_tensor(
            [i for i, d in enumerate(state.members) if d != u], device=state.device, dtype=torch.long
        )
        _take_rows(state, keep)
        state.members = [d for d in state.members if d != u]
        if state.prox_weight is not None:
            state.prox_weight = None
    for j in event.join:
        state.adapter.add_device(j)
        start = {
            n: (
                b.mean(dim=0, keepdim=True)
                if b.shape[0]
                else torch.zeros(1, *b.shape[1:], device=state.device)
            )
            for n, b in state.blocks.items()
        }
        for n in state.layer_names:
            start[n][..., state.adapter.slot_columns(j, n)] = 0.0  # the joiner's own block starts at zero
            state.blocks[n] = torch.cat([state.blocks[n], start[n]], dim=0)
        fresh = state.fresh_moments(1)
        state.opt = {n: {k: torch.cat([o[k], fresh[n][k]], dim=0) for k in o} for n, o in state.opt.items()}
        state.members.append(j)
    warm = state.config.trainer.join_warm_steps
    if event.join and warm > 0:
        tc = state.config.trainer
        rows = [state.members.index(j) for j in event.join]
        sched = uniform_schedule(
            state.group_names,
            state.members,
            event.round,
            local_steps=warm,
            step_size=tc.step_size,
            prox=0.0,
            gamma=tc.gamma,
            sync_period=1,
            density=tc.density,
            graph="complete",
            seed=state.seed,
        )
        saved_anchor, state.anchor = state.anchor, None
        local_steps(state, sched, event.round, None, rows=rows, tag=1)
        state.anchor = saved_anchor
    state.sets = event_sets(before, event.leave, event.join)
    state.event = event
    state.event_index += 1
    state.anchor = {n: b.detach().clone() for n, b in state.consensus().items()}
    state.prox_weight = None
    state._sync_adapter()


def _take_rows(state: TrainerState, keep: torch.Tensor) -> None:
    state.blocks = {n: b[keep] for n, b in state.blocks.items()}
    state.opt = {n: {k: v[keep] for k, v in o.items()} for n, o in state.opt.items()}
