"""Graphs and gossip mixing matrices (NumPy; scipy.sparse.csgraph for components and spanning trees).

Adjacency matrices are symmetric boolean ``adj : [M, M]`` with a False diagonal. Edge lists are ``[E, 2]`` int
arrays with ``i < j``, in row-major order of the upper triangle.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

__all__ = [
    "complete_graph",
    "ring_graph",
    "random_connected_graph",
    "channel_aware_graph",
    "connected_components",
    "is_connected",
    "edge_list",
    "from_edges",
    "num_edges_for_density",
    "metropolis_weights",
    "damped_mixing",
    "consensus_rate",
]


def _check_nodes(num_nodes: int) -> None:
    if not isinstance(num_nodes, int | np.integer) or num_nodes < 1:
        raise ValueError(f"num_nodes={num_nodes!r}: must be an integer >= 1")


def _check_density(density: float) -> None:
    if not np.isfinite(density) or not 0.0 <= density <= 1.0:
        raise ValueError(f"density={density!r}: must be in [0, 1]")


def complete_graph(num_nodes: int) -> np.ndarray:
    _check_nodes(num_nodes)
    return ~np.eye(num_nodes, dtype=bool)


def ring_graph(num_nodes: int) -> np.ndarray:
    _check_nodes(num_nodes)
    adj = np.zeros((num_nodes, num_nodes), dtype=bool)
    if num_nodes > 1:
        i = np.arange(num_nodes)
        adj[i, (i + 1) % num_nodes] = True
        adj |= adj.T
        np.fill_diagonal(adj, False)
    return adj


def edge_list(adj: np.ndarray) -> np.ndarray:
    """Upper-triangle edges of ``adj`` as ``[E, 2]`` (i < j)."""
    iu, ju = np.nonzero(np.triu(np.asarray(adj, dtype=bool), k=1))
    return np.stack([iu, ju], axis=1).astype(np.int64)


def from_edges(num_nodes: int, edges: np.ndarray) -> np.ndarray:
    """Symmetric adjacency from an ``[E, 2]`` edge list."""
    _check_nodes(num_nodes)
    adj = np.zeros((num_nodes, num_nodes), dtype=bool)
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if e.size and (e.min() < 0 or e.max() >= num_nodes):
        raise ValueError(f"edges: node index out of range [0, {num_nodes})")
    adj[e[:, 0], e[:, 1]] = True
    adj |= adj.T
    np.fill_diagonal(adj, False)
    return adj


def connected_components(adj: np.ndarray) -> list[list[int]]:
    """The components of ``adj`` as sorted node lists, ordered by their smallest node."""
    adj = np.asarray(adj, dtype=bool)
    if adj.shape[0] == 0:
        return []
    count, label = csgraph.connected_components(sparse.csr_array(adj), directed=False)
    comps = [np.flatnonzero(label == k).tolist() for k in range(count)]
    return sorted(comps, key=lambda c: c[0])


def is_connected(adj: np.ndarray) -> bool:
    adj = np.asarray(adj, dtype=bool)
    if adj.shape[0] <= 1:
        return True
    count = csgraph.connected_components(sparse.csr_array(adj), directed=False, return_labels=False)
    return bool(count == 1)


def num_edges_for_density(num_nodes: int, density: float) -> int:
    """Edges of a connected graph of density γ: max(M − 1, round(γ · M(M−1)/2))."""
    _check_nodes(num_nodes)
    _check_density(density)
    full = num_nodes * (num_nodes - 1) // 2
    return int(min(full, max(num_nodes - 1, round(density * full))))


def random_connected_graph(num_nodes: int, density: float, *, rng: np.random.Generator) -> np.ndarray:
    """A connected random graph with ``num_edges_for_density(M, γ)`` edges.

    A random tree backbone (each node, in random order, attaches to a random earlier one) guarantees
    connectivity; the remaining edges are drawn uniformly from the non-edges.
    """
    target = num_edges_for_density(num_nodes, density)
    adj = np.zeros((num_nodes, num_nodes), dtype=bool)
    order = rng.permutation(num_nodes)
    for k in range(1, num_nodes):
        parent = order[rng.integers(0, k)]
        adj[order[k], parent] = adj[parent, order[k]] = True
    extra = target - (num_nodes - 1)
    if extra > 0:
        free = edge_list(~adj & ~np.eye(num_nodes, dtype=bool))
        pick = free[rng.choice(len(free), size=extra, replace=False)]
        adj[pick[:, 0], pick[:, 1]] = True
        adj[pick[:, 1], pick[:, 0]] = True
    return adj


def channel_aware_graph(gain_lin: np.ndarray, density: float) -> np.ndarray:
    """A connected graph preferring strong links: the maximum-gain spanning tree plus the strongest others.

    gain_lin : [M, M] symmetric link gains (linear); the diagonal is ignored.
    """
    g = np.asarray(gain_lin, dtype=float)
    m = g.shape[0]
    if g.shape != (m, m):
        raise ValueError(f"gain_lin: must be square [M, M], got shape {g.shape}")
    target = num_edges_for_density(m, density)
    # The maximum-gain spanning tree: its weakest links are as strong as possible. csgraph finds a minimum
    # tree and reads a zero as no edge, so each link weighs its rank by falling gain (1 = the strongest):
    # exact where gains span many decades, unlike a shift of -gain.
    iu, ju = np.triu_indices(m, k=1)
    rank = np.empty(iu.size)
    rank[np.argsort(-g[iu, ju], kind="stable")] = np.arange(1, iu.size + 1)
    weight = sparse.csr_array((rank, (iu, ju)), shape=(m, m))
    tree = csgraph.minimum_spanning_tree(weight).toarray() != 0
    adj = tree | tree.T
    extra = target - (m - 1)
    if extra > 0:
        free = edge_list(~adj & ~np.eye(m, dtype=bool))
        strength = g[free[:, 0], free[:, 1]]
        pick = free[np.argsort(-strength, kind="stable")[:extra]]
        adj[pick[:, 0], pick[:, 1]] = True
        adj[pick[:, 1], pick[:, 0]] = True
    return adj


def metropolis_weights(adj: np.ndarray, *, rule: str = "mh") -> np.ndarray:
    """Symmetric doubly stochastic mixing matrix W : [M, M] on the graph ``adj``.

    rule="mh" (default): w_ij = 1 / (1 + max(d_i, d_j)) — Metropolis–Hastings; ρ < 1 on every connected
    graph and exact averaging on a complete graph. rule="paper": w_ij = 1 / max(d_i, d_j) (eq. 6); the
    self-weight may be 0 and an even ring then has ρ = 1 (no consensus at γ = 1): use it only with γ < 1.
    """
    adj = np.asarray(adj, dtype=bool)
    if rule not in ("mh", "paper"):
        raise ValueError(f"rule={rule!r}: must be one of mh, paper")
    deg = adj.sum(axis=1)
    dmax = np.maximum(deg[:, None], deg[None, :])  # [M, M]
    denom = dmax + 1.0 if rule == "mh" else np.maximum(dmax, 1.0)
    w = np.where(adj, 1.0 / denom, 0.0)
    np.fill_diagonal(w, 1.0 - w.sum(axis=1))
    return w


def damped_mixing(w: np.ndarray, gamma: float) -> np.ndarray:
    """W(γ) = (1 − γ) I + γ W (eq. 5)."""
    if not np.isfinite(gamma) or not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma={gamma!r}: must be in [0, 1]")
    w = np.asarray(w, dtype=float)
    return (1.0 - gamma) * np.eye(w.shape[-1]) + gamma * w


def consensus_rate(w: np.ndarray) -> float:
    """ρ = ‖W − 11ᵀ/M‖₂, the per-step contraction of the disagreement."""
    w = np.asarray(w, dtype=float)
    m = w.shape[-1]
    return float(np.linalg.norm(w - np.full((m, m), 1.0 / m), ord=2))
