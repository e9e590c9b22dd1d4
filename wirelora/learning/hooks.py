"""What a correction method may hook into the round loop, and the batch it sees (see :mod:`loop`).

Every member of :class:`Correction` is optional (the correction methods implement them all, see
:mod:`wirelora.correction.methods.base`): ``project_on_leave`` (False = Naive Remove: the leaver's block
stays in every copy); ``before_event(state, event)``: called right before the leave projection / join (the
pre-event copies and slots are still there); ``on_event(state, event)``: called after the projection, the
join warm start and the oracle; may read data, compute gradients, edit ``state.blocks``, set
``state.anchor`` ({layer: [out, S]}, default: the post-event consensus) and ``state.prox_weight`` ({layer:
[out, S] or [M, out, S]}, e.g. EWC's Fisher); ``schedule(state, round) -> Schedule | None`` (None = the
config's uniform schedule); ``penalty(state, logits, batch) -> Tensor [M] | None``: an extra per-device loss;
logits : [M, b, ...], ``state.base_logits(batch.x)`` gives the frozen base model's (e.g. for KD-Unlearn);
``after_round(state, round) -> dict | None``: numbers the round's History record gains; ``finish(state)``:
once, after the last round (before the last checkpoint); ``state_dict()`` / ``load_state_dict(d)``: saved in /
restored from checkpoints; ``report() -> dict``: what the run's summary needs beyond the History
(:func:`wirelora.evaluation.summary.summarize`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import torch

from wirelora.correction.schedule import Schedule
from wirelora.learning.events import Event

if TYPE_CHECKING:
    from wirelora.learning.state import TrainerState

__all__ = ["Batch", "Correction"]


@dataclass(frozen=True)
class Batch:
    """One local step's data: x : [M, b, ...], y : [M, b, ...] (row m = ``devices[m]``'s samples)."""

    x: torch.Tensor
    y: torch.Tensor
    devices: tuple[str, ...]


class Correction(Protocol):
    """What a correction method may provide (every member optional; see the module docstring)."""

    project_on_leave: bool

    def before_event(self, state: TrainerState, event: Event) -> None: ...

    def on_event(self, state: TrainerState, event: Event) -> None: ...

    def schedule(self, state: TrainerState, round_index: int) -> Schedule | None: ...

    def penalty(self, state: TrainerState, logits: torch.Tensor, batch: Batch) -> torch.Tensor | None: ...

    def after_round(self, state: TrainerState, round_index: int) -> dict | None: ...

    def finish(self, state: TrainerState) -> None: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, d: dict) -> None: ...

    def report(self) -> dict: ...
