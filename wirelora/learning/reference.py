"""The per-device reference path (``trainer.vectorised: false``): every device's model run on its own through
peft's own LoRA layers, sharing nothing with the stacked hooks. A test checks that it gives the vectorised
path's History to 1e-5; the throughput benchmark compares the two.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch

from wirelora.learning.hooks import Batch
from wirelora.learning.stacked import logits_of, row_losses

if TYPE_CHECKING:
    from wirelora.learning.state import TrainerState

__all__ = ["loop_grads", "loop_logits"]


def loop_grads(state: TrainerState, blocks, batch, active, penalty, own_idx):
    """The reference: each device's model run on its own through peft's LoRA layers (lora_B = its
    copy), its full gradient taken and, under block ownership, its own columns read off."""
    losses, grads = [], {n: [] for n in active}
    params = {n: state.adapter.b_weight(n) for n in state.layer_names}
    saved = {n: p.detach().clone() for n, p in params.items()}
    with _peft_on(state, params, saved):
        for m, d in enumerate(batch.devices):
            with torch.no_grad():
                for n, p in params.items():
                    p.copy_(blocks[n][m])
            x = batch.x[m]
            logits = logits_of(state.model(x))
            loss = row_losses(logits, batch.y[m : m + 1], 1)
            if penalty is not None:
                one = Batch(batch.x[m : m + 1], batch.y[m : m + 1], (d,))
                extra = penalty(state, logits.unsqueeze(0), one)
                if extra is not None:
                    loss = loss + extra
            g = torch.autograd.grad(loss.sum(), [params[n] for n in active]) if active else []
            losses.append(loss.detach())
            for n, gn in zip(active, g):
                grads[n].append(gn if own_idx is None else gn[:, own_idx[n][m]])
    return torch.cat(losses), {n: torch.stack(v) for n, v in grads.items()}


@torch.no_grad()
def loop_logits(state: TrainerState, blocks: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """R models run one at a time through peft's own LoRA layers (lora_B = each copy): the reference."""
    blocks = {n: (b if b.dim() == 3 else b.unsqueeze(0)) for n, b in blocks.items()}
    rows = next(iter(blocks.values())).shape[0]
    params = {n: state.adapter.b_weight(n) for n in state.layer_names}
    saved = {n: p.detach().clone() for n, p in params.items()}
    xs = x.reshape(rows, -1, *x.shape[2:]) if x.shape[0] != rows else x  # [R, b, ...]
    out = []
    with _peft_on(state, params, saved):
        for m in range(rows):
            for n, p in params.items():
                p.copy_(blocks[n][m])
            out.append(logits_of(state.model(xs[m])))
    return torch.cat(out)


@contextlib.contextmanager
def _peft_on(state: TrainerState, params: Mapping[str, torch.Tensor], saved: Mapping[str, torch.Tensor]):
    """peft's own LoRA term on inside the block; afterwards off again and B back to ``saved``."""
    try:
        with state.adapter.peft_enabled(True):
            yield
    finally:
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(saved[n])
