"""Theorem 2's residual terms against closed forms, and the synthetic quadratic's hand-set parameters."""

import numpy as np
import pytest

from wirelora.config import ConfigError
from wirelora.correction import residuals as R
from wirelora.network.topology import (
    consensus_rate,
    damped_mixing,
    metropolis_weights,
    random_connected_graph,
)


def test_r_loc_is_paper_form_without_prox():
    # q = (1 - 0.1 * 0.5)^2 = 0.9025; R_loc = q^(2K) C_init with K = 3
    assert R.r_loc(3, 2, 0.1, 0.5, 4.0) == pytest.approx(4.0 * 0.9025**6, rel=1e-12)


def test_r_loc_prox_keeps_the_anchor_bias():
    # λ -> ∞ leaves the gap where it was; λ = μ leaves at least a quarter of it
    assert R.r_loc(50, 5, 0.1, 0.5, 2.0, prox=1e9) == pytest.approx(2.0, rel=1e-6)
    assert R.r_loc(10_000, 5, 0.1, 0.5, 2.0, prox=0.5) == pytest.approx(2.0 * 0.25, rel=1e-9)


def test_r_con_matches_the_explicit_sum():
    k, n, eta, L, rho, d0, drift, h, mu = 7, 2, 0.05, 3.0, 0.8, 1.5, 0.4, 2, 0.2
    kappa = rho ** (1 / h) * (1 - eta * mu) ** n
    expect = L * (kappa ** (2 * k) * d0 + (eta * n) ** 2 * drift * sum(kappa ** (2 * j) for j in range(k)))
    assert R.r_con(k, n, eta, L, rho, d0, drift, sync_period=h, mu=mu) == pytest.approx(expect, rel=1e-12)
    # ρ = 1 and μ = 0: no contraction, the drift accumulates K times
    assert R.r_con(5, 1, 0.1, 1.0, 1.0, 2.0, 3.0) == pytest.approx(2.0 + 0.01 * 3.0 * 5, rel=1e-12)


def test_r_het_closed_form_and_prox_damps_it():
    q = 0.95  # n = 1, η = 0.1, μ = 0.5
    assert R.r_het(1, 0.1, 0.5, 2.0, 3.0) == pytest.approx(2.0 * 0.01 * 3.0 / (1 - q**2), rel=1e-12)
    assert R.r_het(1, 0.1, 0.5, 2.0, 3.0, prox=1.0) < R.r_het(1, 0.1, 0.5, 2.0, 3.0)
    assert R.r_het(0, 0.1, 0.5, 2.0, 3.0) == 0.0


def test_residual_terms_broadcast_and_order():
    out = R.residual_terms(
        rounds=10,
        local_steps=np.array([1, 2, 3]),
        step_size=0.1,
        mu=0.5,
        smoothness=1.0,
        c_init=1.0,
        rho=0.5,
        disagreement=0.1,
        drift=0.2,
        zeta2=0.2,
    )
    assert out.shape == (3, 3) and R.RESIDUALS == ("loc", "con", "het")
    assert np.all(np.diff(out[:, 0]) < 0)  # more local steps: smaller R_loc
    assert np.all(np.diff(out[:, 2]) > 0)  # ... and larger R_het


def test_damped_rate_matches_the_mixing_matrix(rng):
    adj = random_connected_graph(7, 0.4, rng=rng)
    w = metropolis_weights(adj)
    eig = np.sort(np.linalg.eigvalsh(w))[:-1]  # all but the consensus eigenvalue 1
    for gamma in (0.2, 0.5, 1.0):
        assert R.damped_rate(eig, gamma) == pytest.approx(consensus_rate(damped_mixing(w, gamma)), abs=1e-12)


def test_synthetic_quadratic_has_the_requested_parameters():
    q = R.SyntheticQuadratic(zeta=0.7, rho=0.9, init_gap=2.0, disagreement=3.0, gamma_min=0.2)
    st = q.build(seed=3)
    g_star = st.device_gradients(st.x_star)  # [M, dim]
    assert np.allclose(g_star.sum(axis=0), 0.0, atol=1e-12)  # x* is the global optimum
    assert np.mean(np.sum(g_star**2, axis=1)) == pytest.approx(0.49, rel=1e-12)
    assert np.linalg.norm(st.x0.mean(axis=0) - st.x_star) == pytest.approx(2.0, rel=1e-12)
    obs = st.observables()
    assert obs["disagreement"] == pytest.approx(3.0, rel=1e-12)
    assert obs["mu"] == pytest.approx(0.1) and obs["smoothness"] == pytest.approx(1.5)  # spread 0.5 on L = 1
    assert consensus_rate(st.mixing(0.2)) == pytest.approx(0.9, abs=1e-12)
    assert consensus_rate(st.mixing(1.0)) == pytest.approx(0.0, abs=1e-12)
    assert consensus_rate(st.mixing(0.6)) == pytest.approx(float(st.rate(0.6)), abs=1e-12)
    # the full gradient of f = mean f_i at x̄0 matches the loss it reports
    x = st.x0.mean(axis=0)
    eps = 1e-6 * np.eye(x.size)
    num = np.array([(st.loss(x + e) - st.loss(x - e)) / 2e-6 for e in eps])
    assert np.allclose(num, st.device_gradients(x).mean(axis=0), atol=1e-6)


def test_simulation_is_deterministic_and_converges_without_heterogeneity():
    st = R.SyntheticQuadratic(zeta=0.0, rho=0.5, init_gap=1.0, disagreement=1.0).build(seed=0)
    a = R.simulate_quadratic(st, rounds=200, local_steps=1, step_size=0.5, gamma=1.0)
    b = R.simulate_quadratic(st, rounds=200, local_steps=1, step_size=0.5, gamma=1.0)
    assert np.array_equal(a, b)
    assert a[-1] < 1e-6 * a[0]


@pytest.mark.parametrize(("field", "value"), [("mu", -1.0), ("rho", 1.0), ("zeta", -0.1), ("num_devices", 1)])
def test_bad_quadratic_names_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        R.SyntheticQuadratic(**{field: value})
