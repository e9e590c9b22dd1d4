"""Transmit power as a variable (power.py): against a separately written bisection, SLSQP, KKT residuals,
random feasible perturbations, and the cvxpy exponential-cone program."""

import numpy as np
import pytest
from scipy.optimize import brentq, minimize

from wirelora.allocation import allocate
from wirelora.allocation import closed_form as cf
from wirelora.allocation.power import log_f, u_of_log_s
from wirelora.wireless.rates import shannon_rate_bps

LN2 = np.log(2.0)


def _instance(rng, n, lo=4.0, hi=12.0):
    q = rng.uniform(1e4, 1e6, n)
    a = 10 ** rng.uniform(lo, hi, n)  # SNR over 1 Hz at max power
    return q, a


def _energy(b, q, g, tau):
    """The least transmit energy of each entry at band b within tau: tau (b / g)(2^{q / (tau b)} - 1)."""
    return tau * (b / g) * np.expm1(q * LN2 / (tau * b))


def _bisection_reference(q, g, tau, total, b_lo):
    """An independent solve: per entry, b(lambda) by a scalar root of -E'(b) = lambda (no Lambert W), and
    lambda by bisection on the band sum."""

    def neg_slope(b, k):  # -dE/db, by the formula differentiated by hand: (tau/g)(1 + (u - 1) e^u)
        u = q[k] * LN2 / (tau * b)
        return (tau / g[k]) * (u * np.expm1(u) - np.expm1(u) + u)  # = 1 + (u - 1) e^u

    def b_of(lam):
        out = np.empty_like(q)
        for k in range(q.size):
            if neg_slope(b_lo[k], k) <= lam:
                out[k] = b_lo[k]
            else:
                hi = b_lo[k] * 2
                while neg_slope(hi, k) > lam:
                    hi *= 2
                with np.errstate(divide="ignore"):  # far above the root the slope rounds to 0
                    out[k] = brentq(lambda b, k=k: np.log(neg_slope(b, k) / lam), b_lo[k], hi, rtol=1e-15)
        return out

    lo, hi = -200.0, 200.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if np.sum(b_of(np.exp(mid))) > total:
            lo = mid
        else:
            hi = mid
    return b_of(np.exp(0.5 * (lo + hi)))


def test_log_f_and_its_inverse():
    u = np.concatenate([10 ** np.linspace(-8, 2.5, 400), [0.049999, 0.05, 39.999, 40.0, 700.0]])
    f_direct = np.array([float(np.log1p((x - 1) * np.exp(x))) if 0.01 < x < 700 else np.nan for x in u])
    ok = np.isfinite(f_direct)
    np.testing.assert_allclose(log_f(u)[ok], f_direct[ok], rtol=1e-9)
    np.testing.assert_allclose(log_f(1e-6), np.log(0.5e-12 + 1e-18 / 3), rtol=1e-12)
    np.testing.assert_allclose(u_of_log_s(log_f(u)), u, rtol=1e-12)
    assert np.isfinite(u_of_log_s(np.array([800.0, 5000.0]))).all()  # beyond e^700: no overflow


@pytest.mark.parametrize("seed", range(4))
def test_power_matches_independent_bisection_and_kkt(seed):
    rng = np.random.default_rng(seed)
    q, a = _instance(rng, 12)
    pmax, total = 0.01, 1e6
    t_star = allocate(q, a, total).round_latency_s
    tau = 1.5 * t_star
    alloc = allocate(q, a, total, objective="energy", latency_cap_s=tau, max_tx_power_w=pmax)
    g = a / pmax
    b_lo = cf.min_bandwidth_hz(q / tau, a)
    ref_b = _bisection_reference(q, g, tau, total, b_lo)
    ref_e = float(np.sum(_energy(ref_b, q, g, tau)))
    assert alloc.objective_value == pytest.approx(ref_e, rel=1e-9)
    assert alloc.objective_value <= ref_e * (1 + 1e-12)
    # every entry uses its whole time at a power within the limit, and the band is used exactly
    np.testing.assert_allclose(alloc.link_latency_s, tau, rtol=1e-9)
    assert np.all(alloc.tx_power_w <= pmax * (1 + 1e-12))
    assert alloc.bandwidth_hz.sum() == pytest.approx(total, rel=1e-12)
    # KKT residuals: -E'(b) equal on the free entries, below it on those at full power
    b = alloc.bandwidth_hz
    u = q * LN2 / (tau * b)
    marginal = (tau / g) * np.exp(log_f(u))
    free = alloc.tx_power_w < pmax * (1 - 1e-9)
    assert free.sum() >= 2
    lam = np.median(marginal[free])
    np.testing.assert_allclose(marginal[free], lam, rtol=1e-7)
    assert np.all(marginal[~free] <= lam * (1 + 1e-7))
    # the saving over fixed power at max_tx_power_w (wirelora's previous optimum) is real
    fixed = allocate(q, a, total, objective="energy", latency_cap_s=tau, tx_power_w=pmax)
    assert alloc.objective_value < fixed.objective_value


def test_random_feasible_perturbations_never_improve(rng):
    q, a = _instance(rng, 10)
    pmax, total = 0.2, 2e6
    tau = 2.0 * allocate(q, a, total).round_latency_s
    alloc = allocate(q, a, total, objective="energy", latency_cap_s=tau, max_tx_power_w=pmax)
    g = a / pmax
    b_lo = cf.min_bandwidth_hz(q / tau, a)
    best = float(np.sum(_energy(alloc.bandwidth_hz, q, g, tau)))
    for _ in range(300):
        i, j = rng.choice(10, 2, replace=False)
        b = alloc.bandwidth_hz.copy()
        step = rng.uniform(0, 0.05) * b[i]
        b[i] -= step
        b[j] += step
        if b[i] < b_lo[i]:
            continue
        assert np.sum(_energy(b, q, g, tau)) >= best * (1 - 1e-12)


def test_matches_slsqp_on_small_instances(rng):
    for _ in range(3):
        q, a = _instance(rng, 6, 6.0, 9.0)
        pmax, total = 0.05, 1e6
        tau = 1.3 * allocate(q, a, total).round_latency_s
        alloc = allocate(q, a, total, objective="energy", latency_cap_s=tau, max_tx_power_w=pmax)
        g = a / pmax
        lo = cf.min_bandwidth_hz(q / tau, a) / total
        scale = alloc.objective_value

        def f(x, q=q, g=g, tau=tau, scale=scale):
            return np.sum(_energy(x * 1e6, q, g, tau)) / scale

        x0 = lo + (1 - lo.sum()) / 6
        res = minimize(
            f,
            x0,
            method="SLSQP",
            bounds=[(v, 1) for v in lo],
            constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1}],
            options={"ftol": 1e-15, "maxiter": 1000},
        )
        assert alloc.objective_value <= res.fun * scale * (1 + 1e-9)
        assert alloc.objective_value == pytest.approx(res.fun * scale, rel=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_cvxpy_exponential_cone_matches_closed_form(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(5, 60))
    q, a = _instance(rng, n)
    pmax, total = float(rng.uniform(0.01, 0.2)), float(10 ** rng.uniform(5, 7.5))
    tau = float(rng.uniform(1.05, 4.0)) * allocate(q, a, total).round_latency_s
    kw = {"objective": "energy", "latency_cap_s": tau, "max_tx_power_w": pmax}
    exact = allocate(q, a, total, **kw)
    solved = allocate(q, a, total, method="cvxpy", **kw)
    assert solved.method == "cvxpy" and solved.status == "optimal"
    assert solved.objective_value == pytest.approx(exact.objective_value, rel=1e-6)
    assert solved.objective_value >= exact.objective_value * (1 - 1e-9)  # never below the optimum
    assert solved.bandwidth_hz.sum() <= total * (1 + 1e-9)
    assert np.all(solved.link_latency_s <= tau * (1 + 1e-9))
    assert np.all(solved.tx_power_w <= pmax * (1 + 1e-9))


def test_minmax_full_power_is_optimal(rng):
    q, a = _instance(rng, 15)
    pmax, total = 0.1, 5e6
    var = allocate(q, a, total, max_tx_power_w=pmax)  # min-max with the power a variable
    fixed = allocate(q, a, total)  # min-max at max power
    assert var.round_latency_s == pytest.approx(fixed.round_latency_s, rel=1e-12)
    np.testing.assert_allclose(var.tx_power_w, pmax)
    # any lower power, with the bandwidth re-optimised for it, gives a slower round
    for _ in range(20):
        p = pmax * rng.uniform(0.05, 1.0, q.size)
        slower = allocate(q, a * p / pmax, total)
        assert slower.round_latency_s >= var.round_latency_s * (1 - 1e-12)
    # the weighted objective likewise
    w = rng.uniform(0.5, 2.0, q.size)
    wv = allocate(q, a, total, objective="weighted", weights=w, max_tx_power_w=pmax)
    wf = allocate(q, a, total, objective="weighted", weights=w)
    assert wv.objective_value == pytest.approx(wf.objective_value, rel=1e-12)


def test_power_energy_on_mixed_weak_and_strong_links(rng):
    # link SNRs from 1e4 to 1e12 Hz in one instance, 3 groups x 100 links
    a = 10 ** rng.uniform(4, 12, 100)
    q = rng.uniform(1e4, 1e6, (3, 100))
    total = 20e6
    tau = 3.0 * allocate(q, a, total).round_latency_s
    alloc = allocate(q, a, total, objective="energy", latency_cap_s=tau, max_tx_power_w=0.1)
    np.testing.assert_allclose(alloc.link_latency_s, tau, rtol=1e-9)
    rate = shannon_rate_bps(alloc.bandwidth_hz, a * alloc.tx_power_w / 0.1)
    np.testing.assert_allclose(q / rate, tau, rtol=1e-9)
    solved = allocate(q, a, total, objective="energy", latency_cap_s=tau, max_tx_power_w=0.1, method="cvxpy")
    assert solved.objective_value == pytest.approx(alloc.objective_value, rel=1e-6)
