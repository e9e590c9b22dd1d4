"""The exchange step: devices send their adapter copies along a round's edges and mix them (eq. 4).

The round loop talks to a :class:`Backend` only: who trains which rows (``local_steps``), whose schedule
the round uses (``agree``), where a resumed run's checkpoint comes from (``resume_from``), whether this
process records and writes (``is_writer``), and the exchange itself (``exchange``, ``sent_bits``).
:class:`InProcessBackend` holds every device's copy in one stacked tensor per adapted layer (``[M, out, S]``,
row m = the m-th active device in member order), trains them all and does the exchange-and-mix of a group as
one contraction with the mixing matrix: B ← W(γ) B. The torch.distributed backend
(:class:`wirelora.distributed.process_group.ProcessGroupBackend`) trains a shard of the rows per process and
shares them; the trainer does not change.

Payload accounting (method.md §7): a device sends its whole copy of the group's factor, i.e. the B columns
of every active member's slot in every layer of the group, ``bits_per_scalar`` bits per scalar; on a sync
round each edge carries that payload in both directions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Backend", "InProcessBackend", "mix_blocks", "sent_bits", "payload_bits"]


@runtime_checkable
class Backend(Protocol):
    """Train the members' rows, agree on a round's schedule, and exchange and mix one layer group's blocks
    over a graph. ``state`` is the trainer's state (:class:`wirelora.learning.state.TrainerState`)."""

    is_writer: bool  # this process records the History and writes the run directory

    def local_steps(self, state: Any, schedule: Any, round_index: int, correction: Any) -> float:
        """Every member's local steps of the round (``state.local_steps``); the mean first-step loss."""
        ...

    def agree(self, schedule: Any, round_index: int) -> Any:
        """The schedule every process uses in this round (the writer's)."""
        ...

    def resume_from(self, path: Path | None) -> Path | None:
        """The checkpoint to resume from (``path`` if one is there), or None to start at round 0."""
        ...

    def exchange(self, blocks: Mapping[str, object], mixing: np.ndarray) -> dict[str, object]:
        """blocks : {layer: Tensor [M, out, S]}; mixing : [M, M] doubly stochastic, zero off the graph's
        edges.

        Returns {layer: Tensor [M, out, S]} with row i = Σ_j mixing[i, j] · row j.
        """
        ...

    def sent_bits(self, adjacency: np.ndarray, payload_bits: int) -> int:
        """Bits put on the air by one exchange over ``adjacency`` with ``payload_bits`` per device copy."""
        ...


def mix_blocks(blocks: Mapping[str, object], mixing: np.ndarray) -> dict[str, object]:
    """Pure gossip of one group: every layer's B : [M, out, S] becomes W B, all layers in one contraction
    (rows flattened and laid side by side: [M, Σ out·S])."""
    import torch

    if not blocks:
        return {}
    names = list(blocks)
    first = blocks[names[0]]
    w = torch.as_tensor(mixing, dtype=first.dtype, device=first.device)  # [M, M]
    flat = torch.cat([blocks[n].reshape(first.shape[0], -1) for n in names], dim=1)  # [M, Σ out·S]
    mixed = w @ flat  # [M, Σ out·S]
    sizes = [blocks[n][0].numel() for n in names]
    return {n: part.reshape(blocks[n].shape) for n, part in zip(names, torch.split(mixed, sizes, dim=1))}


def sent_bits(adjacency: np.ndarray, payload_bits: int) -> int:
    """Both directions of each undirected edge: 2 · |E| · payload."""
    num_edges = int(np.triu(np.asarray(adjacency, dtype=bool), k=1).sum())
    return 2 * num_edges * int(payload_bits)


class InProcessBackend:
    """All devices in this process; the exchange is exact (no quantisation, no loss)."""

    is_writer = True

    def local_steps(self, state: Any, schedule: Any, round_index: int, correction: Any) -> float:
        return state.local_steps(schedule, round_index, correction)

    def agree(self, schedule: Any, round_index: int) -> Any:
        return schedule

    def resume_from(self, path: Path | None) -> Path | None:
        return path if path is not None and (path.exists() or path.is_symlink()) else None  # a dir: refused

    def exchange(self, blocks: Mapping[str, object], mixing: np.ndarray) -> dict[str, object]:
        return mix_blocks(blocks, mixing)

    def sent_bits(self, adjacency: np.ndarray, payload_bits: int) -> int:
        return sent_bits(adjacency, payload_bits)


def payload_bits(column_counts: Sequence[int], out_features: Sequence[int], bits_per_scalar: int) -> int:
    """Bits of one device copy of a group: Σ_layers out_l · (active columns of layer l) · bits_per_scalar."""
    return int(sum(int(c) * int(o) for c, o in zip(column_counts, out_features)) * int(bits_per_scalar))
