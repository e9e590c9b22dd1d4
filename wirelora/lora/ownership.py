"""Which columns of B a device's gradient may change (docs/method.md §2).

``block`` ownership: a device trains only its own slot's columns; ``shared`` (the paper's looser reading):
every member's columns. Free slots are never trained, so they stay exactly zero. Two forms of one rule:
:func:`ownership_mask` for a trainer's stacked copies [M, out, S], and :class:`GradientGate` for the live
peft layers (a gradient hook on each layer's B).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence

import torch

from wirelora.lora.slots import SlotTable

__all__ = ["ownership_mask", "own_index", "GradientGate"]


def ownership_mask(
    slots: SlotTable, rank: int, rows: Sequence[int], ownership: str, *, device: torch.device | str
) -> torch.Tensor:
    """[M, 1, S] float: 1 where row m (holding slot ``rows[m]``) may change a layer of rank ``rank``: its own
    slot's columns (``block``), or every row's slots' columns (``shared``)."""
    if ownership == "block":
        per_row = [slots.column_mask([s], rank) for s in rows]
        mask = torch.stack(per_row) if per_row else torch.zeros(0, slots.max_devices * rank)
    else:
        mask = slots.column_mask(rows, rank).repeat(len(rows), 1)
    return mask.unsqueeze(1).to(device)


def own_index(
    slots: SlotTable, rank: int, rows: Sequence[int], *, device: torch.device | str
) -> torch.Tensor:
    """[M, r] int64: the columns of row m's own block (slot ``rows[m]``) in a layer of rank ``rank``."""
    starts = torch.as_tensor([slots.columns(s, rank).start for s in rows], device=device)
    return starts[:, None] + torch.arange(rank, device=device)[None, :]


class GradientGate:
    """Zeroes the gradient of each live B [out, S] outside the allowed slots: every member's by default, one
    device's inside :meth:`owned_by` (block ownership)."""

    def __init__(
        self, slots: SlotTable, ranks: Mapping[str, int], params: Mapping[str, torch.Tensor], ownership: str
    ) -> None:
        self._slots = slots
        self._ranks = dict(ranks)
        self._ownership = ownership
        self._active: set[int] | None = None  # set by owned_by(); None -> every member slot
        self._masks: dict[str, torch.Tensor] = {}
        self._hooks = [params[n].register_hook(self._hook(n)) for n in self._ranks]
        self.refresh()

    def _hook(self, name: str):
        def hook(grad: torch.Tensor) -> torch.Tensor:
            return grad * self._masks[name].to(grad)  # [out, S] * [S]: zero outside the allowed blocks

        return hook

    def refresh(self) -> None:
        """Recompute the masks after the members changed."""
        members = set(self._slots.occupied)
        allowed = members if self._active is None else (self._active & members)
        self._masks = {n: self._slots.column_mask(sorted(allowed), r) for n, r in self._ranks.items()}

    @contextlib.contextmanager
    def owned_by(self, slot: int) -> Iterator[None]:
        """Inside the block, gradients reach only ``slot``'s columns (block ownership) or every member's
        (shared)."""
        previous = self._active
        self._active = {slot} if self._ownership == "block" else None
        self.refresh()
        try:
            yield
        finally:
            self._active = previous
            self.refresh()
