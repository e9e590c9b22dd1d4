"""The slot table: which device owns which slot of an adapter, and which columns a slot is.

A layer of rank r has ``max_devices`` slots; slot s is the column block ``s·r : (s+1)·r`` of the layer's A and
B (:meth:`SlotTable.columns` is the one place that formula is written). Slots are handed out lowest
never-used first; a freed slot is reused, oldest first, only once its block is exactly zero (docs/method.md
§2). With independent bases each slot also remembers which seeded draw fills its basis.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

import numpy as np
import torch

__all__ = ["SlotTable"]


class SlotTable:
    """Who owns which of ``max_devices`` slots, which freed slots wait for reuse, and the basis draws."""

    def __init__(self, max_devices: int) -> None:
        self.max_devices = int(max_devices)
        self._slot_of: dict[Hashable, int] = {}
        self._never_used: list[int] = list(range(self.max_devices))
        self._vacated: list[int] = []  # FIFO of freed slots: reused only after every never-used slot is taken
        self._slot_draw: dict[int, int] = {}  # independent bases: slot -> draw number of the basis it holds
        self._next_draw = 0

    # ------------------------------------------------------------------------------------------ columns
    def columns(self, slot: int, rank: int) -> slice:
        """Columns of ``slot`` in a layer of per-device rank ``rank``: ``slot·rank : (slot+1)·rank``."""
        if not 0 <= slot < self.max_devices:
            raise ValueError(f"slot={slot!r}: must be an integer in [0, {self.max_devices - 1}]")
        return slice(slot * rank, (slot + 1) * rank)

    def column_mask(self, slots: Iterable[int], rank: int) -> torch.Tensor:
        """[S] float (S = max_devices · rank): 1 on the columns of ``slots``, 0 elsewhere."""
        mask = torch.zeros(self.max_devices * rank)
        for s in slots:
            mask[self.columns(s, rank)] = 1.0
        return mask

    # ------------------------------------------------------------------------------------------ members
    @property
    def members(self) -> list[Hashable]:
        """Devices holding a slot, in slot order."""
        return sorted(self._slot_of, key=self._slot_of.__getitem__)

    @property
    def occupied(self) -> list[int]:
        """The members' slots, in join order."""
        return list(self._slot_of.values())

    @property
    def never_used(self) -> list[int]:
        """Slots no device ever held (they must stay exactly zero)."""
        return list(self._never_used)

    @property
    def vacated(self) -> list[int]:
        """Freed slots, oldest first."""
        return list(self._vacated)

    @property
    def draws(self) -> dict[int, int]:
        """Independent bases: {slot: the draw number of the basis it holds}."""
        return dict(self._slot_draw)

    def __contains__(self, device: Hashable) -> bool:
        return device in self._slot_of

    def slot_of(self, device: Hashable) -> int:
        if device not in self._slot_of:
            raise ValueError(f"device {device!r} is not a member; members are {self.members}")
        return self._slot_of[device]

    def owner_of(self, slot: int) -> Hashable | None:
        return next((d for d, s in self._slot_of.items() if s == slot), None)

    def free_slot(self, is_zero: Callable[[int], bool]) -> int | None:
        """The slot the next join takes: the lowest never-used slot; once all are taken, the oldest freed slot
        whose block ``is_zero``. None when none is free."""
        if self._never_used:
            return self._never_used[0]
        return next((s for s in self._vacated if is_zero(s)), None)

    def check_slot(self, slot: Any, is_zero: Callable[[int], bool]) -> int:
        """``slot`` as an int if a join may take it; else a ValueError saying why not."""
        ok = (
            isinstance(slot, int | np.integer) and not isinstance(slot, bool) and 0 <= slot < self.max_devices
        )
        if not ok:
            raise ValueError(f"slot={slot!r}: must be an integer in [0, {self.max_devices - 1}]")
        slot = int(slot)
        owner = self.owner_of(slot)
        if owner is not None:
            raise ValueError(f"slot={slot}: owned by device {owner!r}")
        if slot in self._vacated and not is_zero(slot):
            raise ValueError(
                f"slot={slot}: its block is not zero yet (a freed slot is reused only once zero)"
            )
        return slot

    def assign(self, device: Hashable, slot: int) -> None:
        """``device`` takes ``slot`` (checked by the caller: :meth:`free_slot` or :meth:`check_slot`)."""
        if device in self._slot_of:
            raise ValueError(f"device {device!r} is already a member (slot {self._slot_of[device]})")
        if slot in self._never_used:
            self._never_used.remove(slot)
        if slot in self._vacated:
            self._vacated.remove(slot)
        self._slot_of[device] = slot

    def release(self, device: Hashable) -> int:
        """Free ``device``'s slot (queued for reuse) and return it."""
        slot = self.slot_of(device)
        del self._slot_of[device]
        self._vacated.append(slot)
        return slot

    def take_draw(self, slot: int) -> int:
        """Independent bases: the next draw number, recorded as the basis of ``slot``."""
        draw = self._next_draw
        self._slot_draw[slot] = draw
        self._next_draw += 1
        return draw

    @property
    def next_draw(self) -> int:
        return self._next_draw

    # ------------------------------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """JSON-able: members [[device, slot]] in slot order, never_used, vacated, slot_draws, next_draw."""
        return {
            "members": [[d, self._slot_of[d]] for d in self.members],
            "never_used": list(self._never_used),
            "vacated": list(self._vacated),
            "slot_draws": [[s, d] for s, d in sorted(self._slot_draw.items())],
            "next_draw": self._next_draw,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore from :meth:`state_dict`'s output (JSON turns tuple device ids into lists: turned back)."""
        members = {(d if not isinstance(d, list) else tuple(d)): int(s) for d, s in state["members"]}
        self._slot_of = dict(sorted(members.items(), key=lambda kv: kv[1]))
        self._never_used = [int(s) for s in state["never_used"]]
        self._vacated = [int(s) for s in state["vacated"]]
        self._slot_draw = {int(s): int(d) for s, d in state["slot_draws"]}
        self._next_draw = int(state["next_draw"])

    def __repr__(self) -> str:
        return f"SlotTable(max_devices={self.max_devices}, members={dict(self._slot_of)})"
