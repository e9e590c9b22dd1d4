"""Computation in the round (compute.py), TDMA (tdma.py) and energy + time (round_solve.py): against
separately written bisections, SLSQP, brute force over the round latency, perturbations and cvxpy."""

import numpy as np
import pytest
from scipy.optimize import brentq, minimize

from wirelora.allocation import allocate
from wirelora.allocation import closed_form as cf
from wirelora.errors import InfeasibleError
from wirelora.wireless.rates import shannon_rate_bps

LN2 = np.log(2.0)


def _instance(rng, n, lo=6.0, hi=10.0):
    return rng.uniform(1e4, 1e5, n), 10 ** rng.uniform(lo, hi, n)


def _band_for(rate, a):
    """The least band carrying `rate` (scalar root of the Shannon rate; no Lambert W)."""
    hi = 1.0
    while shannon_rate_bps(hi, a) < rate:
        hi *= 2.0
    return brentq(lambda b: shannon_rate_bps(b, a) - rate, 0.0, hi, xtol=1e-300, rtol=1e-15)


def _bisect_finish(q, a, c, total):
    """min T with sum_k band(q_k / (T - c_k)) <= total, by bisection (independent of compute.py)."""
    lo = float(np.max(c + q * LN2 / a))
    hi = lo * 2 + 1.0
    while sum(_band_for(qk / (hi - ck), ak) for qk, ak, ck in zip(q, a, c)) > total:
        hi *= 2
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        need = sum(
            _band_for(qk / (mid - ck), ak) if mid - ck > qk * LN2 / ak else np.inf
            for qk, ak, ck in zip(q, a, c)
        )
        lo, hi = (mid, hi) if need > total else (lo, mid)
    return hi


@pytest.mark.parametrize("seed", range(3))
def test_minmax_with_computation_matches_bisection(seed):
    rng = np.random.default_rng(seed)
    q, a = _instance(rng, 8)
    total = 1e6
    t0 = allocate(q, a, total).round_latency_s
    c = rng.uniform(0, 2 * t0, q.size)
    alloc = allocate(q, a, total, compute_time_s=c)
    assert alloc.round_latency_s == pytest.approx(_bisect_finish(q, a, c, total), rel=1e-10)
    np.testing.assert_allclose(alloc.compute_time_s + alloc.link_latency_s, alloc.round_latency_s, rtol=1e-9)
    assert alloc.bandwidth_hz.sum() == pytest.approx(total, rel=1e-12)
    # the same via cycles / cpu_hz, and with the CPU frequency a variable (the fastest CPU is optimal)
    cycles, samples, f = 1e4, c * 1e9 / 1e4, 1e9
    via = allocate(q, a, total, compute_cycles=cycles, samples=samples, cpu_hz=f)
    var = allocate(q, a, total, compute_cycles=cycles, samples=samples, max_cpu_hz=f, kappa=1e-28)
    assert via.round_latency_s == pytest.approx(alloc.round_latency_s, rel=1e-12)
    assert var.round_latency_s == pytest.approx(alloc.round_latency_s, rel=1e-12)
    np.testing.assert_allclose(var.cpu_hz, f)
    cvx = allocate(q, a, total, compute_time_s=c, method="cvxpy")
    assert cvx.round_latency_s == pytest.approx(alloc.round_latency_s, rel=1e-6)
    assert cvx.round_latency_s >= alloc.round_latency_s * (1 - 1e-9)


def _cpu_instance(rng, n):
    q, a = _instance(rng, n)
    total = 1e6
    t0 = allocate(q, a, total).round_latency_s
    cycles = rng.uniform(1e4, 3e4, n) * 500
    return q, a, total, t0, cycles


def _slsqp_cpu(q, a, total, tau, cycles, kappa, fmax, p=None, pmax=None):
    """min sum kappa C^3 / (tau - t)^2 + upload energy over (shares, t): SLSQP, the formulas written out."""
    n = q.size
    g = None if pmax is None else a / pmax

    def parts(v):
        b, t = np.maximum(v[:n], 1e-12) * total, v[n:]
        comp = kappa * cycles**3 / (tau - t) ** 2
        if p is not None:
            return comp + p * t, shannon_rate_bps(b, a) * t - q  # fixed power: rate x time >= q
        power = (b / g) * np.expm1(q * LN2 / (t * b))
        return comp + power * t, pmax - power

    t_lo = q * LN2 / a * 1.001
    t_hi = tau - cycles / fmax
    x0 = np.concatenate([np.full(n, 1.0 / n), 0.5 * (t_lo + t_hi)])
    scale = float(np.sum(parts(x0)[0])) if np.all(parts(x0)[1] >= 0) else 1.0
    res = minimize(
        lambda v: np.sum(parts(v)[0]) / scale,
        x0,
        method="SLSQP",
        bounds=[(1e-9, 1)] * n + list(zip(t_lo, t_hi)),
        constraints=[
            {"type": "eq", "fun": lambda v: v[:n].sum() - 1},
            {"type": "ineq", "fun": lambda v: parts(v)[1] / np.maximum(q, 1)},
        ],
        options={"ftol": 1e-15, "maxiter": 2000},
    )
    return res.fun * scale, res


@pytest.mark.parametrize("power", ["fixed", "variable"])
def test_cpu_frequency_variable_matches_slsqp(power):
    rng = np.random.default_rng(7)
    for _ in range(2):
        q, a, total, t0, cycles = _cpu_instance(rng, 5)
        fmax, kappa, pw = cycles / (0.5 * t0), 1e-28, 0.01
        tau = 3.0 * t0
        kw = {"tx_power_w": pw} if power == "fixed" else {"max_tx_power_w": pw}
        alloc = allocate(
            q,
            a,
            total,
            objective="energy",
            latency_cap_s=tau,
            compute_cycles=cycles,
            samples=1.0,
            max_cpu_hz=fmax,
            kappa=kappa,
            **kw,
        )
        ref, res = _slsqp_cpu(
            q, a, total, tau, cycles, kappa, fmax, **({"p": pw} if power == "fixed" else {"pmax": pw})
        )
        assert alloc.objective_value <= ref * (1 + 1e-8)
        assert alloc.objective_value == pytest.approx(ref, rel=1e-5)
        finish = alloc.compute_time_s + alloc.link_latency_s
        assert np.all(finish <= tau * (1 + 1e-9)) and np.all(alloc.cpu_hz <= fmax * (1 + 1e-12))
        comp = kappa * cycles * alloc.cpu_hz**2
        np.testing.assert_allclose(alloc.compute_energy_j, comp, rtol=1e-12)
        assert alloc.objective_value == pytest.approx(np.sum(comp) + np.sum(alloc.energy_j), rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_cpu_frequency_variable_cvxpy_matches(seed):
    rng = np.random.default_rng(40 + seed)
    n = int(rng.integers(5, 40))
    q, a, total, t0, cycles = _cpu_instance(rng, n)
    kw = dict(
        objective="energy",
        latency_cap_s=float(rng.uniform(2, 5)) * t0,
        tx_power_w=0.02,
        compute_cycles=cycles,
        samples=1.0,
        max_cpu_hz=cycles / (0.5 * t0),
        kappa=1e-28,
    )
    exact = allocate(q, a, total, **kw)
    solved = allocate(q, a, total, method="cvxpy", **kw)
    assert solved.objective_value == pytest.approx(exact.objective_value, rel=1e-6)
    assert solved.objective_value >= exact.objective_value * (1 - 1e-9)


def test_cpu_perturbations_never_improve(rng):
    q, a, total, t0, cycles = _cpu_instance(rng, 8)
    pw, kappa, fmax, tau = 0.01, 1e-28, cycles / (0.5 * t0), 3 * t0
    alloc = allocate(
        q,
        a,
        total,
        objective="energy",
        latency_cap_s=tau,
        tx_power_w=pw,
        compute_cycles=cycles,
        samples=1.0,
        max_cpu_hz=fmax,
        kappa=kappa,
    )

    def energy(b):  # at fixed power: upload as fast as b allows, the slowest CPU that still finishes by tau
        t = q / shannon_rate_bps(b, a)
        f = cycles / (tau - t)
        return np.inf if np.any(f > fmax) else float(np.sum(pw * t + kappa * cycles * f**2))

    best = energy(alloc.bandwidth_hz)
    assert best == pytest.approx(alloc.objective_value, rel=1e-12)
    for _ in range(200):
        i, j = rng.choice(8, 2, replace=False)
        b = alloc.bandwidth_hz.copy()
        step = rng.uniform(0, 0.05) * b[i]
        b[i] -= step
        b[j] += step
        assert energy(b) >= best * (1 - 1e-12)


def test_tdma_closed_forms(rng):
    q, a = _instance(rng, 10)
    total, p = 1e6, 0.05
    full_rate = shannon_rate_bps(total, a)
    mm = allocate(q, a, total, access="tdma")
    assert mm.round_latency_s == pytest.approx(np.sum(q / full_rate), rel=1e-13)
    assert mm.time_share.sum() == pytest.approx(1.0, rel=1e-13)
    np.testing.assert_allclose(mm.link_latency_s, mm.round_latency_s, rtol=1e-12)
    # energy at a fixed power does not depend on the shares: p q / R(B)
    en = allocate(q, a, total, access="tdma", objective="energy", tx_power_w=p)
    assert en.objective_value == pytest.approx(np.sum(p * q / full_rate), rel=1e-12)
    # with computation first: a separately written bisection on sum d / (T - c) = 1
    c = rng.uniform(0, mm.round_latency_s, q.size)
    d = q / full_rate
    lo, hi = float(np.max(c + d)), float(np.max(c) + np.sum(d))
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        feasible = np.all(mid - c > d) and np.sum(d / (mid - c)) <= 1
        lo, hi = (lo, mid) if feasible else (mid, hi)
    off = allocate(q, a, total, access="tdma", compute_time_s=c)
    assert off.round_latency_s == pytest.approx(hi, rel=1e-10)


def test_tdma_weighted_and_power_match_slsqp(rng):
    q, a = _instance(rng, 6)
    total, pmax = 1e6, 0.05
    d = q / shannon_rate_bps(total, a)
    w = rng.uniform(0.5, 2.0, 6)
    cap = 1.2 * np.sum(d)
    wt = allocate(q, a, total, access="tdma", objective="weighted", weights=w, latency_cap_s=cap)
    lo = d / cap
    cons = [{"type": "eq", "fun": lambda x: x.sum() - 1}]
    res = minimize(
        lambda x: np.sum(w * d / x),
        lo + (1 - lo.sum()) / 6,
        method="SLSQP",
        bounds=[(v, 1) for v in lo],
        constraints=cons,
        options={"ftol": 1e-15, "maxiter": 500},
    )
    assert wt.objective_value <= res.fun * (1 + 1e-9)
    assert wt.objective_value == pytest.approx(res.fun, rel=1e-7)
    # power a variable: energy theta tau p_T with p_T = (B / g)(2^{q / (theta tau B)} - 1) <= pmax
    g = a / pmax
    en = allocate(q, a, total, access="tdma", objective="energy", latency_cap_s=cap, max_tx_power_w=pmax)

    def energy(x):
        return float(np.sum(x * cap * (total / g) * np.expm1(q * LN2 / (x * cap * total))))

    res = minimize(
        lambda x: energy(x) / en.objective_value,
        lo + (1 - lo.sum()) / 6,
        method="SLSQP",
        bounds=[(v, 1) for v in lo],
        constraints=cons,
        options={"ftol": 1e-15, "maxiter": 500},
    )
    assert en.objective_value <= res.fun * en.objective_value * (1 + 1e-9)
    assert en.objective_value == pytest.approx(res.fun * en.objective_value, rel=1e-6)
    assert np.all(en.tx_power_w <= pmax * (1 + 1e-12))
    np.testing.assert_allclose(en.link_latency_s, cap, rtol=1e-9)


@pytest.mark.parametrize("power", ["fixed", "variable"])
def test_energy_time_against_brute_force_over_the_round_latency(power, rng):
    q, a = _instance(rng, 8)
    total, pw, w = 1e6, 0.01, 0.05
    kw = {"tx_power_w": pw} if power == "fixed" else {"max_tx_power_w": pw}
    c = rng.uniform(0, 0.05, q.size)
    et = allocate(q, a, total, objective="energy_time", time_weight_j_per_s=w, compute_time_s=c, **kw)
    t_min = allocate(q, a, total, compute_time_s=c).round_latency_s
    grid = t_min * np.linspace(1 + 1e-6, 6.0, 300)
    scores = [
        allocate(q, a, total, objective="energy", latency_cap_s=t, compute_time_s=c, **kw).objective_value
        + w * t
        for t in grid
    ]
    assert et.objective_value <= min(scores) * (1 + 1e-9)
    assert et.objective_value == pytest.approx(min(scores), rel=1e-3)
    assert et.objective_value == pytest.approx(np.sum(et.energy_j) + w * et.round_latency_s, rel=1e-12)
    if power == "fixed":
        solved = allocate(
            q,
            a,
            total,
            objective="energy_time",
            time_weight_j_per_s=w,
            compute_time_s=c,
            method="cvxpy",
            **kw,
        )
        assert solved.objective_value == pytest.approx(et.objective_value, rel=1e-6)


def test_energy_time_weight_trades_energy_for_time(rng):
    q, a = _instance(rng, 10)
    runs = [
        allocate(q, a, 1e6, objective="energy_time", time_weight_j_per_s=w, max_tx_power_w=0.01)
        for w in (1e-4, 1e-2, 1e3)
    ]
    lat = [r.round_latency_s for r in runs]
    energy = [float(np.sum(r.energy_j)) for r in runs]
    assert lat[0] > lat[1] > lat[2] and energy[0] < energy[1] < energy[2]
    assert lat[2] == pytest.approx(allocate(q, a, 1e6).round_latency_s, rel=1e-3)


def test_min_bandwidth_reference_is_independent(rng):
    # the helper above agrees with the Lambert W inverse (so the bisection references are sound)
    a = 10 ** rng.uniform(4, 12, 20)
    rate = rng.uniform(0.01, 0.9, 20) * a / LN2
    np.testing.assert_allclose(
        [_band_for(r, x) for r, x in zip(rate, a)], cf.min_bandwidth_hz(rate, a), rtol=1e-10
    )


@pytest.mark.parametrize("seed", range(4))
def test_tdma_cvxpy_programs_match_the_closed_forms(seed):
    rng = np.random.default_rng(60 + seed)
    n = int(rng.integers(3, 40))
    q, a = _instance(rng, n)
    total = 1e6
    d = q / shannon_rate_bps(total, a)
    c = rng.uniform(0, np.sum(d), n) if seed % 2 else None
    cap = float(rng.uniform(1.1, 3)) * (np.sum(d) + (0.0 if c is None else float(np.max(c))))
    base = {"access": "tdma", "compute_time_s": c}
    cases = [
        dict(base),
        dict(
            base,
            objective="weighted",
            weights=rng.uniform(0.5, 2, n),
            latency_cap_s=cap * rng.uniform(1.5, 3, n),
        ),
        dict(base, objective="energy", max_tx_power_w=0.05, latency_cap_s=cap),
        dict(base, objective="energy_time", tx_power_w=0.05, time_weight_j_per_s=0.1),
    ]
    for kw in cases:
        exact = allocate(q, a, total, **kw)
        solved = allocate(q, a, total, method="cvxpy", **kw)
        assert solved.method == "cvxpy"
        assert solved.objective_value == pytest.approx(exact.objective_value, rel=1e-6)
        assert solved.objective_value >= exact.objective_value * (1 - 1e-9)
        assert solved.time_share.sum() <= 1 + 1e-9


def test_no_cvxpy_program_where_the_upload_energy_is_not_dcp(rng):
    q, a, total, t0, cycles = _cpu_instance(rng, 5)
    cpu = {"compute_cycles": cycles, "samples": 1.0, "max_cpu_hz": cycles / (0.5 * t0), "kappa": 1e-28}
    for kw in (
        dict(objective="energy", latency_cap_s=3 * t0, max_tx_power_w=0.01, **cpu),
        dict(objective="energy_time", time_weight_j_per_s=1.0, max_tx_power_w=0.01),
        dict(objective="energy_time", time_weight_j_per_s=1.0, max_tx_power_w=0.01, access="tdma"),
    ):
        with pytest.raises(ValueError, match="not DCP"):
            allocate(q, a, total, method="cvxpy", **kw)


@pytest.mark.parametrize("seed", range(4))
def test_energy_time_with_the_cpu_variable_cvxpy_matches(seed):
    rng = np.random.default_rng(80 + seed)
    q, a, total, t0, cycles = _cpu_instance(rng, int(rng.integers(5, 40)))
    kw = dict(
        objective="energy_time",
        time_weight_j_per_s=float(10 ** rng.uniform(-2, 1)),
        tx_power_w=0.02,
        compute_cycles=cycles,
        samples=1.0,
        max_cpu_hz=cycles / (0.5 * t0),
        kappa=1e-28,
    )
    if seed % 2:
        kw["latency_cap_s"] = rng.uniform(2, 6, q.size) * t0
    exact = allocate(q, a, total, **kw)
    solved = allocate(q, a, total, method="cvxpy", **kw)
    assert solved.objective_value == pytest.approx(exact.objective_value, rel=1e-6)
    assert solved.objective_value >= exact.objective_value * (1 - 1e-9)


@pytest.mark.parametrize("power", ["fixed", "variable"])
def test_energy_time_with_per_link_caps_against_brute_force(power, rng):
    # per-link caps make E*(T) flatten entry by entry; the optimum must still be the grid's minimum
    q, a = _instance(rng, 8)
    total, pw, w = 1e6, 0.01, 1e-3
    kw = {"tx_power_w": pw} if power == "fixed" else {"max_tx_power_w": pw}
    t_min = allocate(q, a, total).round_latency_s
    caps = np.linspace(1.2, 4.0, q.size) * t_min
    et = allocate(q, a, total, objective="energy_time", time_weight_j_per_s=w, latency_cap_s=caps, **kw)

    def score(t):
        e = allocate(q, a, total, objective="energy", latency_cap_s=np.minimum(caps, t), **kw)
        return e.objective_value + w * e.round_latency_s

    grid = t_min * np.linspace(1.2 + 1e-6, 4.5, 400)
    best = min(score(t) for t in grid)
    assert et.objective_value <= best * (1 + 1e-12)
    assert et.objective_value == pytest.approx(best, rel=1e-4)
    assert np.all(et.link_latency_s <= caps * (1 + 1e-9))


def test_cpu_caps_needing_more_band_than_there_is_are_infeasible(rng):
    q, a, total, t0, cycles = _cpu_instance(rng, 6)
    for kw in ({"tx_power_w": 0.01}, {"max_tx_power_w": 0.01}):
        with pytest.raises(InfeasibleError, match="latency_cap_s"):
            allocate(
                q,
                a,
                total,
                objective="energy",
                latency_cap_s=t0 * (1 - 1e-2) + 0.5 * t0,  # every upload by 0.99 T*: over the band
                compute_cycles=cycles,
                samples=1.0,
                max_cpu_hz=cycles / (0.5 * t0),
                kappa=1e-28,
                **kw,
            )


def test_minmax_with_computation_on_the_yang_cell_matches_bisection():
    # the bundled cell's 10 users with offsets up to T*: the Newton on the band overshoots below the root
    # first and must return where it converges, not its first upper end
    import dataclasses

    from wirelora.allocation.scenario import build_problem, load_scenario

    prob = build_problem(dataclasses.replace(load_scenario("yang"), num_users=10, seed=0))
    q, a, total = prob.payload_bits, prob.link_snr_hz, prob.total_bandwidth_hz
    c = np.linspace(0.0, allocate(q, a, total).round_latency_s, q.size)
    alloc = allocate(q, a, total, compute_time_s=c)
    assert alloc.round_latency_s == pytest.approx(_bisect_finish(q, a, c, total), rel=1e-10)
    np.testing.assert_allclose(alloc.compute_time_s + alloc.link_latency_s, alloc.round_latency_s, rtol=1e-9)
