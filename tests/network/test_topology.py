import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirelora.network import topology as T


def test_complete_graph_mh_is_exact_average():
    w = T.metropolis_weights(T.complete_graph(6))
    np.testing.assert_allclose(w, np.full((6, 6), 1 / 6), atol=1e-15)
    assert T.consensus_rate(w) == pytest.approx(0.0, abs=1e-12)


def test_complete_graph_paper_rule_rate():
    # docs/method.md §3: the paper's 1/max(d_i, d_j) gives ρ = 1/(M − 1) on a complete graph
    w = T.metropolis_weights(T.complete_graph(6), rule="paper")
    assert T.consensus_rate(w) == pytest.approx(1 / 5)


def test_ring_of_four_rates():
    ring = T.ring_graph(4)
    assert T.consensus_rate(T.metropolis_weights(ring, rule="paper")) == pytest.approx(1.0)
    assert T.consensus_rate(T.metropolis_weights(ring)) == pytest.approx(1 / 3)
    # damping restores contraction for the paper's rule
    assert T.consensus_rate(T.damped_mixing(T.metropolis_weights(ring, rule="paper"), 0.5)) < 1.0


def test_rate_matches_eigenvalues():
    rng = np.random.default_rng(0)
    adj = T.random_connected_graph(9, 0.3, rng=rng)
    w = T.damped_mixing(T.metropolis_weights(adj), 0.4)
    eig = np.sort(np.abs(np.linalg.eigvalsh(w)))[::-1]
    assert eig[0] == pytest.approx(1.0)
    assert T.consensus_rate(w) == pytest.approx(eig[1])


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(1, 25),
    density=st.floats(0, 1),
    seed=st.integers(0, 2**31 - 1),
    rule=st.sampled_from(["mh", "paper"]),
)
def test_random_graph_connected_and_weights_doubly_stochastic(m, density, seed, rule):
    adj = T.random_connected_graph(m, density, rng=np.random.default_rng(seed))
    assert T.is_connected(adj)
    assert (adj == adj.T).all() and not adj.diagonal().any()
    assert len(T.edge_list(adj)) == T.num_edges_for_density(m, density)
    w = T.metropolis_weights(adj, rule=rule)
    np.testing.assert_allclose(w.sum(axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(w, w.T)
    assert (w >= -1e-15).all()
    if rule == "mh" and m > 1:
        assert T.consensus_rate(w) < 1.0


def test_random_graph_is_seeded():
    a = T.random_connected_graph(10, 0.4, rng=np.random.default_rng(3))
    b = T.random_connected_graph(10, 0.4, rng=np.random.default_rng(3))
    assert (a == b).all()


def test_channel_aware_prefers_strong_links():
    rng = np.random.default_rng(1)
    g = rng.exponential(size=(8, 8))
    g = (g + g.T) / 2
    adj = T.channel_aware_graph(g, 0.0)
    assert T.is_connected(adj) and len(T.edge_list(adj)) == 7
    iu = np.triu_indices(8, 1)
    strongest = np.argmax(g[iu])
    assert adj[iu[0][strongest], iu[1][strongest]]
    # the maximum spanning tree has the largest total gain among spanning trees: compare with random trees
    total = g[adj].sum() / 2
    for s in range(20):
        r = T.random_connected_graph(8, 0.0, rng=np.random.default_rng(s))
        assert total >= g[r].sum() / 2 - 1e-12


def test_bad_density():
    with pytest.raises(ValueError, match="density"):
        T.random_connected_graph(4, 1.5, rng=np.random.default_rng(0))
