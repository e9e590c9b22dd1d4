"""The per-device reference path (``trainer.vectorised: false``): every device's model run on its own through
peft's own LoRA layers, sharing nothing with the stacked hooks. A test checks that it gives the vectorised
path's History to 1e-5; the throughput benchmark compares the two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch

from wirelora.learning.hooks import Batch
from wirelora.learning.stacked import logits_of, row_losses

if TYPE_CHECKING:
    from wirelora.learning.state import TrainerState

__all__ = ["set_peft_enabled", "loop_grads", "loop_logits"]


def set_peft_enabled(peft_layers: Sequence[torch.nn.Module], on: bool) -> None:
    # Toggle peft's own LoRA term without peft's enable_adapters(), which would also make lora_A trainable.
    for layer in peft_layers:
        layer._disable_adapters = not on


def loop_grads(state: TrainerState, blocks, batch, active, penalty, own_idx):
    """The reference: each device's model run on its own through peft's LoRA layers (lora_B = its
    copy), its full gradient taken and, under block ownership, its own columns read off."""
    losses, grads = [], {n: [] for n in active}
    params = {n: state.adapter.lora_layer(n).lora_B["default"].weight for n in state.layer_names}
    saved = {n: p.detach().clone() for n, p in params.items()}
    set_peft_enabled(state._peft_layers, True)
    try:
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
    finally:
        set_peft_enabled(state._peft_layers, False)
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(saved[n])
    return torch.cat(losses), {n: torch.stack(v) for n, v in grads.items()}


@torch.no_grad()
def loop_logits(state: TrainerState, blocks: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """R models run one at a time through peft's own LoRA layers (lora_B = each copy): the reference."""
    blocks = {n: (b if b.dim() == 3 else b.unsqueeze(0)) for n, b in blocks.items()}
    rows = next(iter(blocks.values())).shape[0]
    params = {n: state.adapter.lora_layer(n).lora_B["default"].weight for n in state.layer_names}
    saved = {n: p.detach().clone() for n, p in params.items()}
    xs = x.reshape(rows, -1, *x.shape[2:]) if x.shape[0] != rows else x  # [R, b, ...]
    out = []
    set_peft_enabled(state._peft_layers, True)
    try:
        for m in range(rows):
            for n, p in params.items():
                p.copy_(blocks[n][m])
            out.append(logits_of(state.model(xs[m])))
    finally:
        set_peft_enabled(state._peft_layers, False)
        for n, p in params.items():
            p.copy_(saved[n])
    return torch.cat(out)
