"""The ``distributed`` section of a run config: how long a multi-process run waits for a peer."""

from __future__ import annotations

from dataclasses import dataclass

from wirelora.config import ConfigError, check_positive

__all__ = ["DistributedConfig", "EXCHANGES"]

EXCHANGES = ("all_gather", "p2p")


@dataclass(frozen=True)
class DistributedConfig:
    """``timeout_s``: a process of a ``--backend dist`` run that has not answered an exchange within this many
    seconds (dead or stalled) stops the others, with one line naming it and the round. Read only by the
    multi-process backend; it does not change the History.

    ``exchange``: how the rows cross processes — ``all_gather`` (every process gets every trained row each
    round) or ``p2p`` (send/recv: rank 0 gets every row, the others only the rows their own rows mix with,
    and an all_gather only in the rounds that need every row everywhere: see docs/distributed.md). It does
    not change the History."""

    timeout_s: float = 60.0
    exchange: str = "all_gather"

    def __post_init__(self):
        check_positive("distributed.timeout_s", self.timeout_s)
        if self.exchange not in EXCHANGES:
            raise ConfigError(
                f"distributed.exchange={self.exchange!r}: must be one of {', '.join(EXCHANGES)}"
            )
