"""The exchange step: devices send their adapter copies along a round's edges and mix them (eq. 4).

The round loop talks to a :class:`Backend` only. :class:`InProcessBackend` holds every device's copy in one
stacked tensor per adapted layer (``[M, out, S]``, row m = the m-th active device in member order) and does
the exchange-and-mix of a group as one contraction with the mixing matrix: B ← W(γ) B. A multi-process
backend (torch.distributed, one rank per device) implements the same two methods by sending each row to its
graph neighbours and summing the received rows with their weights; the trainer does not change.

Payload accounting (method.md §7): a device sends its whole copy of the group's factor, i.e. the B columns
of every active member's slot in every layer of the group, ``bits_per_scalar`` bits per scalar; on a sync
round each edge carries that payload in both directions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Backend", "InProcessBackend", "mix_blocks", "sent_bits", "payload_bits"]


@runtime_checkable
class Backend(Protocol):
    """Exchange and mix one layer group's blocks over a graph."""

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

    def exchange(self, blocks: Mapping[str, object], mixing: np.ndarray) -> dict[str, object]:
        return mix_blocks(blocks, mixing)

    def sent_bits(self, adjacency: np.ndarray, payload_bits: int) -> int:
        return sent_bits(adjacency, payload_bits)


def payload_bits(column_counts: Sequence[int], out_features: Sequence[int], bits_per_scalar: int) -> int:
    """Bits of one device copy of a group: Σ_layers out_l · (active columns of layer l) · bits_per_scalar."""
    return int(sum(int(c) * int(o) for c, o in zip(column_counts, out_features)) * int(bits_per_scalar))
