"""Read-only probes of a state: logits, losses, gradients (local, per sample) and evaluation.

Corrections use them through the :class:`~wirelora.learning.state.TrainerState` methods of the same names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch

from wirelora.learning.reference import loop_logits
from wirelora.learning.stacked import fold, logits_of, row_accuracy, row_losses

if TYPE_CHECKING:
    from wirelora.learning.state import TrainerState

__all__ = [
    "SETS",
    "logits",
    "base_logits",
    "losses",
    "local_gradients",
    "per_sample_gradients",
    "evaluate",
    "device_set_losses",
    "train_objective",
]

SETS = ("retain", "join", "forget")


def logits(state: TrainerState, blocks: Mapping[str, torch.Tensor] | None, x: torch.Tensor) -> torch.Tensor:
    """Logits of R models on their own inputs. blocks: {layer: [R, out, S]} (or [out, S]: one model);
    x : [R, b, ...] → [R·b, ...]. ``blocks=None``: the base model."""
    if blocks is not None:
        blocks = {n: (b if b.dim() == 3 else b.unsqueeze(0)) for n, b in blocks.items()}
    with state.stacked.use(blocks):
        return logits_of(state.model(fold(x)))


def base_logits(state: TrainerState, x: torch.Tensor) -> torch.Tensor:
    """The frozen base model's logits (no adapter) on x : [R, b, ...] → [R·b, ...], without gradient."""
    with torch.no_grad():
        return logits(state, None, x)


def losses(
    state: TrainerState, blocks: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """Per-row loss [R] of copy r on x[r], y[r] (x : [R, b, ...])."""
    return row_losses(logits(state, blocks, x), y, x.shape[0])


def _broadcast(
    state: TrainerState, point: Mapping[str, torch.Tensor] | None, rows: int
) -> dict[str, torch.Tensor]:
    if point is None:
        return {n: b.detach().clone() for n, b in state.blocks.items()}
    return {n: p.detach().expand(rows, *p.shape[-2:]).clone() for n, p in point.items()}


def local_gradients(
    state: TrainerState,
    point: Mapping[str, torch.Tensor] | None = None,
    *,
    devices: Sequence[str] | None = None,
    num_samples: int | None = None,
) -> dict[str, torch.Tensor]:
    """Every device's gradient of its local training loss (without prox), unmasked.

    point: {layer: [out, S]} evaluated by every device (e.g. ``consensus()``), or None = each device's own
    copy. devices: default the members (rows follow this order). num_samples: the first n training samples
    of each device (default all). Returns {layer: [len(devices), out, S]}.
    """
    devices = list(state.members if devices is None else devices)
    if point is None and devices != state.members:
        raise ValueError("local_gradients: point=None (own copies) needs devices=None (all members)")
    x, y = state.data(devices, "train")
    if num_samples is not None:
        x, y = x[:, :num_samples], y[:, :num_samples]
    blocks = _broadcast(state, point, len(devices))
    for b in blocks.values():
        b.requires_grad_(True)
    loss = losses(state, blocks, x, y).sum()
    grads = torch.autograd.grad(loss, list(blocks.values()))
    return dict(zip(blocks, grads))


def per_sample_gradients(
    state: TrainerState,
    group: str,
    *,
    point: Mapping[str, torch.Tensor] | None = None,
    devices: Sequence[str] | None = None,
    num_samples: int = 16,
) -> dict[str, torch.Tensor]:
    """Per-sample gradients of the loss w.r.t. the group's factors at ``point`` (default: the consensus).

    Each sample is folded in as its own row, so one backward pass gives them all. Samples: the first
    ``num_samples`` training samples of each of ``devices`` (default: the members), device-major.
    Returns {layer of group: [N, out, S]}, N = len(devices) · num_samples.
    """
    devices = list(state.members if devices is None else devices)
    point = state.consensus() if point is None else point
    x, y = state.data(devices, "train")
    x = x[:, :num_samples].reshape(-1, 1, *x.shape[2:])  # [N, 1, ...]
    y = y[:, :num_samples].reshape(-1, 1, *y.shape[2:])
    blocks = _broadcast(state, point, x.shape[0])
    wanted = state.groups[group]
    for n in wanted:
        blocks[n].requires_grad_(True)
    loss = losses(state, blocks, x, y).sum()
    grads = torch.autograd.grad(loss, [blocks[n] for n in wanted])
    return dict(zip(wanted, grads))


@torch.no_grad()
def evaluate(
    state: TrainerState, blocks: Mapping[str, torch.Tensor] | None = None
) -> dict[str, float | None]:
    """Loss and accuracy of one model (default: the consensus) on the eval data of the current sets:
    {"retain_loss", "retain_acc", "join_loss", ..., "forget_acc"}; None where a set is empty."""
    blocks = state.consensus() if blocks is None else blocks
    out: dict[str, float | None] = {}
    for s in SETS:
        devs = state.sets[s]
        if not devs:
            out[f"{s}_loss"] = out[f"{s}_acc"] = None
            continue
        x, y = state.data(devs)
        x, y = x.reshape(1, -1, *x.shape[2:]), y.reshape(1, -1, *y.shape[2:])  # one row: the whole set
        logits = _eval_logits(state, blocks, x)
        out[f"{s}_loss"] = float(row_losses(logits, y, 1)[0])
        out[f"{s}_acc"] = float(row_accuracy(logits, y, 1)[0])
    oc = state.config.oracle
    if oc.enabled and oc.kind == "central":
        out["train_objective"] = float(train_objective(state, blocks, oc.weight_decay))
    return out


def train_objective(
    state: TrainerState, blocks: Mapping[str, torch.Tensor], weight_decay: float
) -> torch.Tensor:
    """F(B) = (1/M) Σ_u L_u(B) + (weight_decay / 2)‖B‖² over the members u (scalar tensor, differentiable):
    L_u is u's mean training loss over all its training data, B = {layer: [out, S]} one model."""
    x, y = state.data(state.members, "train")
    rows = x.shape[0]
    stacked = {n: b.expand(rows, *b.shape[-2:]) for n, b in blocks.items()}
    with state.stacked.use(stacked):
        loss = row_losses(logits_of(state.model(fold(x))), y, rows).mean()
    return loss + 0.5 * weight_decay * sum((b * b).sum() for b in blocks.values())


@torch.no_grad()
def device_set_losses(state: TrainerState) -> dict[str, list[float] | None]:
    """Each member's own copy evaluated on each set: {"retain": [M], "join": [M], "forget": [M]}."""
    out: dict[str, list[float] | None] = {}
    rows = len(state.members)
    for s in SETS:
        devs = state.sets[s]
        if not devs:
            out[s] = None
            continue
        x, y = state.data(devs)
        x = x.reshape(1, -1, *x.shape[2:]).expand(rows, *([-1] * (x.dim() - 1)))  # [M, n, ...]
        y = y.reshape(1, -1, *y.shape[2:]).expand(rows, *([-1] * (y.dim() - 1)))
        out[s] = row_losses(_eval_logits(state, state.blocks, x), y, rows).tolist()
    return out


@torch.no_grad()
def _eval_logits(state: TrainerState, blocks: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """:meth:`logits` for evaluation; with ``vectorised=False`` each model runs on its own through peft's
    LoRA layers, so that the reference path shares nothing with the stacked hooks."""
    if state.config.trainer.vectorised:
        return logits(state, blocks, x)
    return loop_logits(state, blocks, x)
