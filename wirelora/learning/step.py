"""The local step: every device's gradient of its own loss in one backward pass, the prox term, and the
optimiser as a pure init/update pair (SGD: B ← B − η g; Adam with per-device moments that never leave the
device). Block ownership: only each row's own columns are differentiated and stepped (gather, step, scatter).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from wirelora.correction.schedule import Schedule
from wirelora.errors import DivergenceError
from wirelora.learning.hooks import Batch
from wirelora.learning.reference import loop_grads
from wirelora.learning.stacked import fold, logits_of, row_losses
from wirelora.streams import stream

if TYPE_CHECKING:
    from wirelora.learning.state import TrainerState

__all__ = ["adam_init", "adam_update", "local_steps", "local_step_losses"]


def adam_init(rows: int, out: int, cols: int, device: torch.device) -> dict[str, torch.Tensor]:
    """Adam moments of ``rows`` devices' [out, cols]: m, v : [rows, out, cols], step t : [rows, 1, 1]."""
    return {
        "m": torch.zeros(rows, out, cols, device=device),
        "v": torch.zeros(rows, out, cols, device=device),
        "t": torch.zeros(rows, 1, 1, device=device),
    }


def adam_update(
    moments: Mapping[str, torch.Tensor],
    grad: torch.Tensor,
    *,
    beta1: float,
    beta2: float,
    eps: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One Adam update: (bias-corrected m̂ / (√v̂ + ε), the new moments). Moments stay zero where a gradient is
    masked."""
    t = moments["t"] + 1.0
    m = beta1 * moments["m"] + (1 - beta1) * grad
    v = beta2 * moments["v"] + (1 - beta2) * grad * grad
    direction = (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps)
    return direction, {"m": m, "v": v, "t": t}


def _batch(
    state: TrainerState,
    rows: Sequence[str],
    round_index: int,
    step: int,
    tag: int,
    drawn: Sequence[str] | None = None,
) -> Batch:
    """The step's batch of ``rows``; the draw is over ``drawn`` (default: ``rows``) in its order, so a shard
    of the members (``rows`` ⊂ ``drawn``) gets the very samples it gets in the whole members' draw."""
    b = min(state.config.trainer.batch_size, state.task.train_x.shape[1])
    rng = stream("batches", state.seed, tag, round_index, step)
    over = rows if drawn is None else drawn
    idx = np.argsort(rng.random((len(over), state.task.train_x.shape[1])), axis=1)[:, :b]  # [R, b]
    if drawn is not None:
        idx = idx[[list(drawn).index(d) for d in rows]]
    dev = state.task.index(rows)
    x = state.train_x[torch.as_tensor(dev[:, None]), torch.as_tensor(idx)]  # [R, b, ...]
    y = state.train_y[torch.as_tensor(dev[:, None]), torch.as_tensor(idx)]
    return Batch(x=x.to(state.device), y=y.to(state.device), devices=tuple(rows))


def _grads(
    state: TrainerState,
    blocks: dict[str, torch.Tensor],
    batch: Batch,
    active: Sequence[str],
    correction,
    own_idx: Mapping[str, torch.Tensor] | None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Per-row loss [R] and gradients of the active layers, vectorised or per device: on each row's own
    block, {layer: [R, out, r]}, when ``own_idx`` ({layer: [R, r]}) is given (block ownership), else on
    all columns, {layer: [R, out, S]} (unmasked)."""
    penalty = getattr(correction, "penalty", None)
    if not state.config.trainer.vectorised:
        return loop_grads(state, blocks, batch, active, penalty, own_idx)
    rows = len(batch.devices)
    if own_idx is not None:
        live = {n: b.detach() for n, b in blocks.items()}
        own = {
            n: (
                torch.zeros(
                    rows, state._out[n], own_idx[n].shape[1], device=state.device, requires_grad=True
                ),
                own_idx[n],
            )
            for n in active
        }
        wrt = [own[n][0] for n in active]
    else:
        live = {n: b.detach().requires_grad_(n in active) for n, b in blocks.items()}
        own = None
        wrt = [live[n] for n in active]
    with state.stacked.use(live, own):
        logits = logits_of(state.model(fold(batch.x)))
    loss = row_losses(logits, batch.y, rows)
    if penalty is not None:
        extra = penalty(state, logits.reshape(rows, -1, *logits.shape[1:]), batch)
        if extra is not None:
            loss = loss + extra
    grads = torch.autograd.grad(loss.sum(), wrt) if active else []
    return loss.detach(), dict(zip(active, grads))


def _check_losses(state: TrainerState, loss: torch.Tensor, rows: Sequence[str], round_index: int) -> None:
    bad = ~torch.isfinite(loss) | (loss > state.config.trainer.max_loss)
    if bool(bad.any()):
        m = int(torch.nonzero(bad)[0])
        raise DivergenceError(
            f"round {round_index}: device {rows[m]} local loss {float(loss[m])!r} "
            f"(NaN or above trainer.max_loss={state.config.trainer.max_loss})"
        )


def check_blocks(state: TrainerState, round_index: int) -> None:
    """Divergence on the parameters, not only the loss: a non-finite block, or one whose norm exceeds
    ``trainer.max_block_norm``, stops the run naming the round, the device and the layer."""
    bound = state.config.trainer.max_block_norm
    for name, b in state.blocks.items():
        norms = torch.linalg.vector_norm(b.reshape(b.shape[0], -1), dim=1)
        bad = ~torch.isfinite(norms) | (norms > bound)
        if bool(bad.any()):
            m = int(torch.nonzero(bad)[0])
            device, norm = state.members[m], float(norms[m])
            raise DivergenceError(
                f"round {round_index}: device {device} layer {name}: block norm {norm!r} "
                f"(non-finite or above trainer.max_block_norm={bound})"
            )


def local_steps(
    state: TrainerState,
    schedule: Schedule,
    round_index: int,
    correction=None,
    *,
    rows: Sequence[int] | None = None,
    tag: int = 0,
) -> float:
    """Each device (or only ``rows``) takes n_g steps of size η_g on group g, with the prox term;
    returns the mean local loss at the first step (NaN without steps). Rows not listed are untouched.
    See :func:`local_step_losses`."""
    loss = local_step_losses(state, schedule, round_index, correction, rows=rows, tag=tag)
    return math.nan if loss is None else float(loss.mean())


def local_step_losses(
    state: TrainerState,
    schedule: Schedule,
    round_index: int,
    correction=None,
    *,
    rows: Sequence[int] | None = None,
    tag: int = 0,
    drawn: Sequence[int] | None = None,
) -> torch.Tensor | None:
    """:func:`local_steps`, returning the rows' local losses at the first step ([R]; None without rows or
    steps). ``drawn``: the rows (a superset of ``rows``, default ``rows``) whose batches are drawn together —
    a process training its shard of the members draws over all of them.

    Block ownership: only each row's own columns are differentiated and stepped (gather, step, scatter),
    so the others are untouched bit for bit. Shared: all member columns, through a [R, 1, S] mask."""
    members = state.members
    rows = list(range(len(members))) if rows is None else list(rows)
    if not rows:
        return None
    names = [members[r] for r in rows]
    drawn_names = None if drawn is None else [members[r] for r in drawn]
    sub = rows != list(range(len(members)))
    ridx = torch.as_tensor(rows, device=state.device)
    blocks = {n: (b[ridx] if sub else b) for n, b in state.blocks.items()}
    block_mode = state.config.trainer.ownership == "block"
    own_idx = (
        {n: state.adapter.own_index(n, names, device=state.device) for n in state.layer_names}
        if block_mode
        else None
    )
    masks = (
        None
        if block_mode
        else {n: state.adapter.ownership_mask(n, names, device=state.device) for n in state.layer_names}
    )
    nmax = max(schedule.groups[g].local_steps for g in state.group_names)
    first = None
    for k in range(nmax):
        active = [n for g in state.group_names if schedule.groups[g].local_steps > k for n in state.groups[g]]
        batch = _batch(state, names, round_index, k, tag, drawn_names)
        loss, grads = _grads(state, blocks, batch, active, correction, own_idx)
        _check_losses(state, loss, names, round_index)
        if k == 0:
            first = loss
        new = dict(blocks)
        for g in state.group_names:
            gs = schedule.groups[g]
            if gs.local_steps <= k:
                continue
            for n in state.groups[g]:
                grad = grads[n]  # [R, out, r] (own block) or [R, out, S]
                cur = blocks[n]
                if block_mode:
                    gidx = own_idx[n][:, None, :].expand(-1, cur.shape[1], -1)  # [R, out, r]
                    cur = torch.gather(cur, 2, gidx)
                if gs.prox > 0 and state.anchor is not None:
                    # ∇ (λ/2)‖w^½ (B − B_anchor)‖² = λ w (B − B_anchor)
                    anchor = state.anchor[n].expand_as(blocks[n])
                    w = None if state.prox_weight is None else state.prox_weight[n]
                    if w is not None:
                        w = w[ridx] if (w.dim() == 3 and sub) else w.expand_as(blocks[n])
                    if block_mode:
                        anchor = torch.gather(anchor, 2, gidx)
                        w = None if w is None else torch.gather(w, 2, gidx)
                    diff = cur - anchor
                    grad = grad + gs.prox * (diff if w is None else w * diff)
                if not block_mode:
                    grad = masks[n] * grad  # [R, out, S]: every member's columns, never a free slot
                step = cur - gs.step_size * _direction(state, n, grad, ridx if sub else None)
                new[n] = blocks[n].scatter(2, gidx, step) if block_mode else step
        blocks = {n: b.detach() for n, b in new.items()}
    for n in state.layer_names:
        if sub:
            full = state.blocks[n].clone()
            full[ridx] = blocks[n]
            state.blocks[n] = full
        else:
            state.blocks[n] = blocks[n]
    return first


def _direction(state: TrainerState, name: str, grad: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
    """The step direction from a gradient [R, out, r] (own block) or masked [R, out, S] for ``rows`` (None =
    all): the gradient itself (sgd), or Adam's with the rows' moments updated in ``state.opt``."""
    if state.config.trainer.optimizer == "sgd":
        return grad
    o, tc = state.opt[name], state.config.trainer
    direction, new = adam_update(
        o if rows is None else {k: v[rows] for k, v in o.items()},
        grad,
        beta1=tc.adam_beta1,
        beta2=tc.adam_beta2,
        eps=tc.adam_eps,
    )
    if rows is None:
        state.opt[name] = new
    else:
        for key, val in new.items():
            full = o[key].clone()
            full[rows] = val
            o[key] = full
    return direction
