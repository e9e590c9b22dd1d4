"""Metrics against hand-computed values."""

import numpy as np
import pytest

from wirelora.evaluation import metrics as M


def test_event_gap_by_hand():
    assert M.event_gap(1.5, 1.2) == pytest.approx(0.3)
    assert M.event_gap(1.5, 1.2, 2.0, 1.0, lambda_j=0.5) == pytest.approx(0.3 + 0.5)
    assert np.allclose(M.event_gap([1.0, 0.8], [0.5, 0.5]), [0.5, 0.3])
    assert M.total_event_gap(0.3, 0.2, lambda_f=2.0) == pytest.approx(0.7)


def test_kl_by_hand():
    # p = softmax([0, ln 3]) = (1/4, 3/4); q = (1/2, 1/2): KL = 1/4 ln(1/2) + 3/4 ln(3/2)
    expect = 0.25 * np.log(0.5) + 0.75 * np.log(1.5)
    assert M.forget_gap([[0.0, np.log(3.0)]], [[5.0, 5.0]]) == pytest.approx(expect, rel=1e-12)
    assert M.kl_divergence([[1.0, 2.0, 3.0]], [[1.0, 2.0, 3.0]]) == pytest.approx(0.0, abs=1e-15)
    with pytest.raises(ValueError, match="shapes differ"):
        M.kl_divergence(np.zeros((2, 3)), np.zeros((2, 4)))


def test_relative_improvement_by_hand():
    assert np.allclose(M.relative_improvement([2.0, 4.0], [1.5, 5.0]), [25.0, -25.0])
    with pytest.raises(ValueError, match="loss_uniform"):
        M.relative_improvement([0.0], [1.0])


def test_membership_auc_by_hand():
    # members' losses 0.1, 0.4; non-members 0.2, 0.4, 0.5: pairs member < non-member:
    # 0.1 < all three (3); 0.4 < 0.5 (1), 0.4 = 0.4 (½) -> 4.5 / 6
    assert M.membership_auc([0.1, 0.4], [0.2, 0.4, 0.5]) == pytest.approx(4.5 / 6)
    assert M.membership_auc([1.0, 2.0], [1.0, 2.0]) == pytest.approx(0.5)
    assert M.membership_auc([0.0], [1.0]) == 1.0
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(40), rng.standard_normal(50) + 0.3
    brute = np.mean((a[:, None] < b[None, :]) + 0.5 * (a[:, None] == b[None, :]))
    assert M.membership_auc(a, b) == pytest.approx(brute, rel=1e-12)


def _ranks_auc(member_losses, nonmember_losses) -> float:
    """The hand-written rank AUC that scipy.stats.mannwhitneyu replaced (kept as the reference)."""
    a, b = np.asarray(member_losses, float).ravel(), np.asarray(nonmember_losses, float).ravel()
    both = np.concatenate([a, b])
    order = np.argsort(both, kind="mergesort")
    ranks = np.empty(both.size)
    ranks[order] = np.arange(1, both.size + 1)
    _, inv = np.unique(both, return_inverse=True)
    ranks = (np.bincount(inv, weights=ranks) / np.bincount(inv))[inv]  # average ranks over ties
    return float((ranks[a.size :].sum() - b.size * (b.size + 1) / 2) / (a.size * b.size))


def _numpy_kl(p, q) -> float:
    """The hand-written log-softmax KL that scipy.special.log_softmax replaced (kept as the reference)."""

    def log_softmax(x):
        z = x - x.max(axis=-1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    lp, lq = log_softmax(np.asarray(p, float)), log_softmax(np.asarray(q, float))
    return float(np.mean(np.sum(np.exp(lp) * (lp - lq), axis=-1)))


@pytest.mark.parametrize("seed", range(20))
def test_scipy_auc_and_kl_equal_the_hand_written_ones_bit_for_bit(seed):
    """History values (mia_auc_*, forget_gap) must not move: the same inputs give the same float."""
    rng = np.random.default_rng(seed)
    na, nb = rng.integers(1, 60, size=2)
    a = np.round(rng.standard_normal(na), int(rng.integers(1, 4)))  # rounded: many ties
    b = np.round(rng.standard_normal(nb) + 0.3, int(rng.integers(1, 4)))
    assert M.membership_auc(a, b) == _ranks_auc(a, b)
    shape = (int(rng.integers(1, 5)), int(rng.integers(1, 7)), int(rng.integers(2, 40)))
    p, q = 5 * rng.standard_normal(shape), 5 * rng.standard_normal(shape)
    assert M.kl_divergence(p, q) == _numpy_kl(p, q)


def test_forget_quality_by_hand():
    out = M.forget_quality(
        loss=2.0, accuracy=0.4, oracle_loss=2.5, oracle_accuracy=0.2, mia_auc=0.6, oracle_mia_auc=0.52
    )
    assert out == pytest.approx({"loss_gap": -0.5, "accuracy_gap": 0.2, "mia_gap": 0.08})


def test_contribution_residual_by_hand():
    a_u = np.array([[1.0], [0.0], [0.0]])  # [in=3, r=1]: the first input direction
    dw = np.array([[3.0, 4.0, 0.0]])  # [out=1, in=3]: ‖ΔW‖ = 5, ‖ΔW A_u‖ = 3
    assert M.contribution_residual(dw, a_u) == pytest.approx(0.6)
    assert M.contribution_residual([dw, np.zeros((2, 3))], [a_u, a_u]) == pytest.approx(0.6)
    assert M.contribution_residual(np.array([[0.0, 4.0, 0.0]]), a_u) == 0.0


def test_consensus_distance_by_hand():
    blocks = np.array([[1.0, 0.0], [3.0, 2.0]])  # mean (2, 1): each device is at distance² 2
    assert M.consensus_distance(blocks) == pytest.approx(2.0)
    assert M.consensus_distance([blocks, blocks[:, :1]]) == pytest.approx(2.0 + 1.0)


def test_costs_by_hand():
    method = M.cost_summary(
        local_steps=[2, 2, 1],
        bits=[10, 0, 20],
        stored_bytes_per_device=64,
        latency_s=[0.1, 0.0, 0.2],
        energy_j=[1.0, 0.0, 2.0],
    )
    assert method == M.CostSummary(
        rounds=3,
        local_steps=5.0,
        bits=30.0,
        stored_bytes_per_device=64.0,
        latency_s=pytest.approx(0.3),
        energy_j=3.0,
    )
    uniform = M.cost_summary(local_steps=[2, 2, 2], bits=[20, 20, 20])
    out = M.normalised_costs(method, uniform)
    assert out == pytest.approx(
        {"norm_comm": 0.5, "norm_compute": 5 / 6, "norm_total": 0.5 * 0.5 + 0.5 * 5 / 6}
    )
    with pytest.raises(ValueError, match="reference"):
        M.normalised(1.0, 0.0)


def test_best_vs_final_by_hand():
    out = M.best_vs_final([1.0, 0.4, 0.2, 0.3])
    assert out == {
        "best": 0.2,
        "best_round": 2,
        "final": 0.3,
        "monotone": False,
        "overshoot": pytest.approx(0.1),
    }
    assert M.best_vs_final([3.0, 2.0, 2.0])["monotone"] is True
