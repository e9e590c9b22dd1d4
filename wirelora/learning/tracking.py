"""Experiment tracking: each History round as TensorBoard scalars (``wirelora run --tensorboard DIR``).

A tracker is anything with ``append(record)`` and ``close()``; :func:`wirelora.learning.loop.run` calls it
once per round, after the round is recorded, with the same record ``metrics.jsonl`` gets. The scalar tags are
the History's keys (``retain_loss``, ``consensus_distance``, ...), nested ones joined by ``/``
(``consensus_distance_group/attention``, ``schedule/attention/step_size``); the step is the round. Rounds that
were not evaluated (``eval_every``) have no loss scalars rather than a NaN.

TensorBoard is an optional dependency (``pip install 'wirelora[tensorboard]'``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path

from wirelora.config import ConfigError

__all__ = ["TensorBoardWriter", "require_tensorboard", "scalars"]


def scalars(record: Mapping, prefix: str = "") -> Iterator[tuple[str, float]]:
    """The (tag, value) pairs of one History round: its finite numbers, nested dicts flattened with ``/``;
    ``round`` (the step), booleans, lists and None are left out."""
    for key, value in record.items():
        tag = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from scalars(value, prefix=f"{tag}/")
        elif isinstance(value, int | float) and not isinstance(value, bool) and tag != "round":
            if math.isfinite(value):
                yield tag, float(value)


def require_tensorboard(log_dir: str | Path):
    """torch's ``SummaryWriter`` class, after checking that it can write to ``log_dir``; a one-line
    :class:`ConfigError` if the tensorboard package is missing or ``log_dir`` is a file."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch's writer imports the tensorboard package
        raise ConfigError(
            f"--tensorboard={str(log_dir)!r}: needs the tensorboard package "
            "(pip install 'wirelora[tensorboard]')"
        ) from None
    if Path(log_dir).exists() and not Path(log_dir).is_dir():
        raise ConfigError(f"--tensorboard={str(log_dir)!r}: is a file, not a directory")
    return SummaryWriter


class TensorBoardWriter:
    """Writes each round's :func:`scalars` to an event file in ``log_dir`` (created if needed).

    start_round: the first round this writer will see; a resumed run passes its checkpoint's round, and the
    event file marks everything logged from that round on by an earlier, interrupted writer as purged, so
    TensorBoard shows each round once.
    """

    def __init__(self, log_dir: str | Path, *, start_round: int = 0):
        summary_writer = require_tensorboard(log_dir)
        self.log_dir = Path(log_dir)
        self._writer = summary_writer(
            log_dir=str(self.log_dir), purge_step=start_round if start_round > 0 else None
        )

    def append(self, record: Mapping) -> None:
        step = int(record["round"])
        for tag, value in scalars(record):
            self._writer.add_scalar(tag, value, global_step=step)
        self._writer.flush()  # so that a TensorBoard watching the directory sees the round now

    def close(self) -> None:
        self._writer.close()
