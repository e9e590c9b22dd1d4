"""The point-to-point exchange (``distributed.exchange: p2p``): which rows cross which process boundary.

In a *lean* round (see :class:`wirelora.distributed.process_group.ProcessGroupBackend`) rank 0 holds every
row (the others send it their trained rows, since it evaluates and records every member); any other rank
holds its own rows fresh and the rest stale. Before a group's mix, rank ``q`` needs from rank ``p`` the rows
of ``p`` that one of ``q``'s rows mixes with (``mixing[i, j] ≠ 0``, i hosted by q, j by p): the round's gossip
edges that cross from p to q. Rank 0 needs none (it has them all). A stale row only enters rows that are
not the process's own, with weight exactly zero in its own rows, so a process's own mixed rows are
bit-identical to the in-process contraction.

Every wait is bounded: :func:`send_recv` posts all its isends and irecvs, then waits each under
``timeout_s`` (gloo's recv otherwise blocks until the peer sends).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

import numpy as np
import torch

__all__ = ["edge_rows", "send_recv"]


def edge_rows(rows: Sequence[Sequence[int]], mixing: np.ndarray, sender: int, receiver: int) -> list[int]:
    """The rows hosted by ``sender`` that a row hosted by ``receiver`` mixes with, in row order (none when
    ``receiver`` is rank 0, which holds every row, or is the sender).

    rows : the rows hosted by each rank; mixing : [M, M], nonzero on the graph's edges and diagonal."""
    mine, theirs = list(rows[receiver]), list(rows[sender])
    if receiver == 0 or receiver == sender or not mine or not theirs:
        return []
    nonzero = np.asarray(mixing)[np.ix_(mine, theirs)] != 0  # [|mine|, |theirs|]
    return [theirs[k] for k in np.flatnonzero(nonzero.any(axis=0))]


def send_recv(
    sends: Mapping[int, torch.Tensor],
    recvs: Mapping[int, torch.Tensor],
    *,
    tag: int,
    timeout_s: float,
    group,
) -> tuple[int, int]:
    """Send ``sends[peer]`` to each peer and fill ``recvs[peer]`` from each peer (shapes known on both
    sides), every wait at most ``timeout_s``; a timeout or a closed peer raises (the caller names the rank).
    Returns (bytes sent, bytes received)."""
    import torch.distributed as dist

    out = {p: t.contiguous() for p, t in sends.items() if t.numel()}  # alive until every wait returned
    works = [dist.isend(t, dst=p, group=group, tag=tag) for p, t in out.items()]
    works += [dist.irecv(t, src=p, group=group, tag=tag) for p, t in recvs.items() if t.numel()]
    for work in works:
        if not work.wait(timeout=timedelta(seconds=timeout_s)):
            raise TimeoutError(f"no send/recv within {timeout_s:g} s")
    return _nbytes(sends.values()), _nbytes(recvs.values())


def _nbytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)
