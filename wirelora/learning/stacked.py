"""All devices' adapter copies through one model call: devices folded into the batch dimension.

With slotted bases every copy of an adapted layer shares the frozen A : [in, S] (all slots side by side),
and copy m differs only in its B_m : [out, S]. So the R copies' forward passes are one pass of the base
model over a batch of R · b inputs, in which each adapted linear layer adds its LoRA term per copy:

    x : [R·b, ..., in] → [R, n, in]
    (x A) : [R, n, S]                  one matmul, A shared
    Δ = bmm(x A, B_mᵀ) : [R, n, out]    copy m's B on slice m
    y = W0 x + scaling · Δ

This is done with forward hooks on the base ``nn.Linear`` (or GPT-2 ``Conv1D``) modules, so the base model's
code is untouched and the B copies stay plain tensors (``{layer: Tensor [R, out, S]}``) that the trainer
differentiates, masks, steps and mixes. Outside a :meth:`StackedLoRA.use` block the hooks do nothing (the
base model).

Loss helpers return one loss per row (copy), so that ``loss.sum()`` backpropagates each copy's own loss into
its own B_m: one backward pass gives every device's gradient.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from wirelora.learning.tasks import IGNORE_INDEX
from wirelora.lora.config import layer_features

__all__ = ["StackedLayer", "StackedLoRA", "row_losses", "row_accuracy", "logits_of"]


@dataclass(frozen=True, eq=False)
class StackedLayer:
    """One adapted layer: the frozen base layer to hook (``nn.Linear`` or GPT-2's ``Conv1D``), its basis
    A : [in, S], LoRA scaling and layer group."""

    name: str
    group: str
    module: nn.Module
    basis: torch.Tensor  # [in, S]
    scaling: float

    @property
    def out_features(self) -> int:
        return layer_features(self.module)[1]

    @property
    def num_columns(self) -> int:
        return int(self.basis.shape[1])


class StackedLoRA:
    """Forward hooks that add ``scaling · (x A) B_mᵀ`` per row m of the folded batch."""

    def __init__(self, layers: Sequence[StackedLayer]):
        self.layers = list(layers)
        self._blocks: Mapping[str, torch.Tensor] | None = None
        self._own: Mapping[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self._handles = [layer.module.register_forward_hook(self._hook(layer)) for layer in self.layers]

    def _hook(self, layer: StackedLayer):
        def hook(module, inputs, output):
            blocks = self._blocks
            if blocks is None:
                return output
            b = blocks[layer.name]  # [R, out, S]
            x = inputs[0]
            rows = b.shape[0]
            xs = x.reshape(rows, -1, x.shape[-1])  # [R, n, in]: row m = copy m's slice of the batch
            xa = xs @ layer.basis  # [R, n, S]
            delta = torch.bmm(xa, b.transpose(1, 2))  # [R, n, out]
            own = self._own.get(layer.name)
            if own is not None:
                # row m's own columns as a separate (zero-valued) leaf: its gradient is the gradient of the
                # row's own block, at the cost of r columns instead of all S
                p, idx = own  # [R, out, r], [R, r]
                xa_own = torch.gather(xa, 2, idx[:, None, :].expand(-1, xa.shape[1], -1))  # [R, n, r]
                delta = delta + torch.bmm(xa_own, p.transpose(1, 2))
            return output + layer.scaling * delta.reshape(output.shape)

        return hook

    @contextmanager
    def use(
        self,
        blocks: Mapping[str, torch.Tensor] | None,
        own: Mapping[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> Iterator[None]:
        """Within the block, the model computes with these copies (``{layer: [R, out, S]}``; None = base
        model). ``own``: {layer: (P [R, out, r], idx [R, r])}, zero-valued extra columns added at each row's
        column indices ``idx`` — differentiate w.r.t. P to get each row's gradient on its own block only."""
        previous = self._blocks, self._own
        self._blocks, self._own = blocks, (own or {})
        try:
            yield
        finally:
            self._blocks, self._own = previous

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []


def logits_of(output) -> torch.Tensor:
    """The logits of a model call: a tensor, or an object / dict with ``logits``."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping):
        return output["logits"]
    return output.logits


def row_losses(logits: torch.Tensor, targets: torch.Tensor, rows: int) -> torch.Tensor:
    """Mean cross-entropy per row. logits : [R·b, (T,) C]; targets : [R·b, (T,)] (IGNORE_INDEX skipped) →
    [R]."""
    c = logits.shape[-1]
    per = F.cross_entropy(
        logits.reshape(-1, c), targets.reshape(-1), ignore_index=IGNORE_INDEX, reduction="none"
    )
    per = per.reshape(rows, -1)  # [R, b·T]
    valid = (targets.reshape(rows, -1) != IGNORE_INDEX).to(per.dtype)  # [R, b·T]
    return (per * valid).sum(dim=1) / valid.sum(dim=1).clamp_min(1.0)


def row_accuracy(logits: torch.Tensor, targets: torch.Tensor, rows: int) -> torch.Tensor:
    """Fraction of correct argmax predictions per row over the labelled positions → [R]."""
    pred = logits.argmax(dim=-1).reshape(rows, -1)
    t = targets.reshape(rows, -1)
    valid = t != IGNORE_INDEX
    return ((pred == t) & valid).sum(dim=1).to(torch.float32) / valid.sum(dim=1).clamp_min(1).to(
        torch.float32
    )


def fold(x: torch.Tensor) -> torch.Tensor:
    """[R, b, ...] → [R·b, ...]."""
    return x.reshape(-1, *x.shape[2:])
