"""The ``distributed`` section of a run config: how long a multi-process run waits for a peer."""

from __future__ import annotations

from dataclasses import dataclass

from wirelora.config import check_positive

__all__ = ["DistributedConfig"]


@dataclass(frozen=True)
class DistributedConfig:
    """``timeout_s``: a process of a ``--backend dist`` run that has not answered an exchange within this many
    seconds (dead or stalled) stops the others, with one line naming it and the round. Read only by the
    multi-process backend; it does not change the History."""

    timeout_s: float = 60.0

    def __post_init__(self):
        check_positive("distributed.timeout_s", self.timeout_s)
