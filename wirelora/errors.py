"""The toolkit's error types. Each message is one line naming the field or constraint and the value."""

from __future__ import annotations

__all__ = ["InfeasibleError", "SolverError", "DivergenceError", "CheckpointError", "DistributedError"]


class InfeasibleError(ValueError):
    """No allocation meets a constraint; the message says which link or constraint."""


class SolverError(RuntimeError):
    """The convex solver did not return ``optimal``; the message names the status it returned."""


class DivergenceError(RuntimeError):
    """Training produced a NaN or exploding loss; the message names the round and the device."""


class CheckpointError(ValueError):
    """A checkpoint or cache file that cannot be trusted (missing, truncated, foreign, corrupted, or not of
    this run); the message names the file."""


class DistributedError(RuntimeError):
    """A process of a multi-process run died, stalled or could not join; the message names the rank and the
    round."""
