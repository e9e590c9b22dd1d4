"""topology's connectivity, components and maximum-gain spanning tree (scipy.sparse.csgraph) against plain
reference implementations (the hand-written BFS and Prim they replaced), on many random graphs."""

import numpy as np
import pytest

from wirelora.network import topology as T


def bfs_components(adj):
    adj = np.asarray(adj, dtype=bool)
    m = adj.shape[0]
    label = -np.ones(m, dtype=np.int64)
    out = []
    for s in range(m):
        if label[s] >= 0:
            continue
        label[s] = len(out)
        frontier = np.zeros(m, dtype=bool)
        frontier[s] = True
        while frontier.any():
            frontier = adj[frontier].any(axis=0) & (label < 0)
            label[frontier] = len(out)
        out.append(np.flatnonzero(label == len(out)).tolist())
    return out


def prim_tree(g):
    m = g.shape[0]
    adj = np.zeros((m, m), dtype=bool)
    in_tree = np.zeros(m, dtype=bool)
    in_tree[0] = True
    best = g[0].copy()
    parent = np.zeros(m, dtype=np.int64)
    for _ in range(m - 1):
        v = int(np.argmax(np.where(in_tree, -np.inf, best)))
        adj[v, parent[v]] = adj[parent[v], v] = True
        in_tree[v] = True
        better = (g[v] > best) & ~in_tree
        best = np.where(better, g[v], best)
        parent = np.where(better, v, parent)
    return adj


def random_graph(rng, m, p):
    adj = np.triu(rng.random((m, m)) < p, k=1)
    return adj | adj.T


@pytest.mark.parametrize("seed", range(40))
def test_connectivity_and_components_match_bfs(seed):
    rng = np.random.default_rng(seed)
    for m in (1, 2, 3, 5, 8, 13):
        for p in (0.0, 0.1, 0.3, 0.6, 1.0):
            adj = random_graph(rng, m, p)
            ref = bfs_components(adj)
            assert T.is_connected(adj) == (len(ref) == 1)
            assert T.connected_components(adj) == ref


@pytest.mark.parametrize("seed", range(40))
def test_spanning_tree_matches_prim(seed):
    rng = np.random.default_rng(seed)
    for m in (2, 3, 5, 8, 13, 21):
        g = rng.lognormal(mean=-25.0, sigma=3.0, size=(m, m))  # distinct path-loss-like gains over decades
        g = np.triu(g, k=1) + np.triu(g, k=1).T
        tree = T.channel_aware_graph(g, 0.0)  # density 0: the spanning tree alone
        assert np.array_equal(tree, prim_tree(g))
        assert tree.sum() == 2 * (m - 1) and T.is_connected(tree)
        for density in (0.3, 0.7, 1.0):
            dense = T.channel_aware_graph(g, density)
            assert np.all(dense >= tree)
            assert dense.sum() // 2 == T.num_edges_for_density(m, density)
