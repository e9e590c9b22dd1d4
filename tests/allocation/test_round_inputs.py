"""The round model's validators (property-based) and the edge magnitudes of issue 12: every input double
precision cannot carry is a one-line ValueError naming the field, never OverflowError, NaN or an infinite
latency reported as optimal; cvxpy answers meet every constraint to 1e-9 relative."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirelora.allocation import Budget, InfeasibleError, SolverError, allocate
from wirelora.allocation.polish import violations
from wirelora.allocation.problem import AllocationProblem
from wirelora.wireless.rates import shannon_rate_bps

Q = np.array([4e6, 8e6, 16e6])
A = np.array([2e7, 1e7, 3e7])
BAD = st.sampled_from([0.0, -1.0, np.nan, np.inf, -np.inf, "x", [1.0, 2.0]])
FIELDS = ["max_tx_power_w", "compute_cycles", "samples", "cpu_hz", "kappa", "time_weight_j_per_s"]


def _kwargs(field, value):
    kw = {"objective": "energy_time", "time_weight_j_per_s": 0.1, "tx_power_w": 0.1}
    if field == "max_tx_power_w":
        kw.pop("tx_power_w")
    if field in ("compute_cycles", "samples", "cpu_hz", "kappa"):
        kw.update(compute_cycles=1e4, samples=100, cpu_hz=1e9, kappa=1e-28)
    kw[field] = value
    return kw


@settings(max_examples=60, deadline=None)
@given(field=st.sampled_from(FIELDS), value=BAD)
def test_bad_round_inputs_name_the_field(field, value):
    with pytest.raises(ValueError) as err:
        allocate(Q, A, 1e6, **_kwargs(field, value))
    assert field in str(err.value) and "\n" not in str(err.value)


@settings(max_examples=40, deadline=None)
@given(value=st.one_of(st.floats(max_value=-1e-300), st.just(np.nan), st.just(np.inf)))
def test_bad_compute_time_names_the_field(value):
    with pytest.raises(ValueError, match="compute_time_s"):
        allocate(Q, A, 1e6, compute_time_s=value)


@settings(max_examples=40, deadline=None)
@given(
    pmax=st.floats(1e-6, 1e3),
    ratio=st.floats(1.01, 50.0),
    seed=st.integers(0, 2**16),
)
def test_valid_power_problems_meet_their_constraints(pmax, ratio, seed):
    rng = np.random.default_rng(seed)
    q, a = rng.uniform(1e3, 1e7, 5), 10 ** rng.uniform(4, 12, 5)
    tau = ratio * allocate(q, a, 1e6).round_latency_s
    alloc = allocate(q, a, 1e6, objective="energy", latency_cap_s=tau, max_tx_power_w=pmax)
    assert np.all(np.isfinite(alloc.tx_power_w)) and np.all(alloc.tx_power_w <= pmax * (1 + 1e-9))
    assert np.all(alloc.link_latency_s <= tau * (1 + 1e-9))
    assert alloc.bandwidth_hz.sum() <= 1e6 * (1 + 1e-12)
    assert np.isfinite(alloc.objective_value) and alloc.objective_value > 0


def test_contradictory_inputs():
    cases = [
        ({"tx_power_w": 0.1, "max_tx_power_w": 0.2}, "tx_power_w"),
        ({"objective": "energy", "max_tx_power_w": 0.2}, "latency_cap_s"),
        ({"objective": "energy_time"}, "time_weight_j_per_s"),
        ({"time_weight_j_per_s": 1.0}, "time_weight_j_per_s"),
        ({"compute_time_s": 1.0, "compute_cycles": 1e3, "samples": 1, "cpu_hz": 1e9}, "compute_time_s"),
        ({"compute_cycles": 1e3, "samples": 1}, "cpu_hz"),
        ({"cpu_hz": 1e9}, "compute_cycles"),
        ({"access": "ofdma"}, "access"),
        ({"max_tx_power_w": 0.1, "budget": Budget(1e9, 1.0)}, "budget"),
        ({"compute_time_s": 1.0, "latency_cap_s": 0.5}, "latency_cap_s"),
        ({"kappa": 1e-28}, "kappa"),
    ]
    for kw, field in cases:
        with pytest.raises(ValueError) as err:
            allocate(Q, A, 1e6, **kw)
        assert field in str(err.value), (kw, str(err.value))


@pytest.mark.parametrize("method", ["auto", "cvxpy"])
def test_edge_magnitudes_are_value_errors(method):
    cases = [
        ((np.array([5e-324, 8e6, 16e6]), A, 1e6), {}, "payload_bits"),
        ((np.array([1e308, 8e6, 16e6]), A, 1e6), {}, "payload_bits"),
        ((Q, np.array([1e-300, 1e7, 3e7]), 1e6), {}, "link_snr_hz"),
        ((Q, A, 1e51), {}, "total_bandwidth_hz"),
        (
            (Q, A, 1e6),
            {"objective": "energy", "max_tx_power_w": 0.1, "latency_cap_s": 1e300},
            "latency_cap_s",
        ),
        ((Q, A, 1e6), {"compute_time_s": 1e308}, "compute_time_s"),
        ((Q, A, 1e6), {"compute_cycles": 1e300, "samples": 1e300, "cpu_hz": 1.0}, "compute_cycles"),
        ((Q, A, 1e6), {"compute_cycles": 1e3, "samples": 1, "cpu_hz": 1e9, "kappa": 1e300}, "kappa"),
    ]
    for args, kw, field in cases:
        with pytest.raises(ValueError) as err:
            allocate(*args, method=method, **kw)
        assert field in str(err.value) and not isinstance(err.value, InfeasibleError)


def test_extreme_but_representable_powers_stay_finite():
    for pmax in (1e-300, 1e300):
        for method in ("auto", "cvxpy"):
            alloc = allocate(
                Q, A, 1e6, objective="energy", max_tx_power_w=pmax, latency_cap_s=100.0, method=method
            )
            assert np.isfinite(alloc.objective_value) and alloc.objective_value > 0
            assert alloc.round_latency_s <= 100.0 * (1 + 1e-9)


def _tight(rng, n=40):
    """Budget and energy cap both 1e-6 above what the midpoint of the latency- and energy-optimal
    allocations reaches: jointly feasible, both tight."""
    q, a = rng.uniform(1e5, 1e6, n), 10 ** rng.uniform(5, 10, n)
    p = rng.uniform(0.05, 0.2, n)
    b_lat = allocate(q, a, 20e6, objective="weighted", weights=np.ones(n)).bandwidth_hz
    b_en = allocate(q, a, 20e6, objective="energy", tx_power_w=p).bandwidth_hz
    lat = q / shannon_rate_bps(0.5 * (b_lat + b_en), a)
    budget = Budget(q.sum() + 1e6 * float(np.sum(lat)) * (1 + 1e-6), 1e6)
    return q, a, p, budget, float(np.sum(p * lat)) * (1 + 1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_cvxpy_with_tight_caps_meets_every_constraint(seed):
    rng = np.random.default_rng(seed)
    q, a, p, budget, energy_cap = _tight(rng)
    kw = {"objective": "weighted", "weights": rng.uniform(0.5, 2, q.size), "tx_power_w": p}
    req = AllocationProblem.build(q, a, 20e6, energy_cap_j=energy_cap, budget=budget, **kw)
    try:
        alloc = allocate(q, a, 20e6, energy_cap_j=energy_cap, budget=budget, **kw)
    except SolverError as exc:  # the honest outcome when Clarabel stops short of optimal (seed 1)
        assert "optimal_inaccurate" in str(exc) or "breaks" in str(exc)
        assert seed == 1  # seeds 0 and 2 are solved: the test must see real answers
    else:
        assert alloc.method == "cvxpy" and violations(req, alloc.bandwidth_hz) == []
    # with one coupling constraint the closed form is the optimum: cvxpy never scores below it
    exact = allocate(q, a, 20e6, budget=budget, **kw)
    solved = allocate(q, a, 20e6, budget=budget, method="cvxpy", **kw)
    assert solved.objective_value >= exact.objective_value * (1 - 1e-9)
    assert solved.objective_value == pytest.approx(exact.objective_value, rel=1e-6)


def test_infeasible_round_problems_are_infeasible_errors():
    with pytest.raises(InfeasibleError, match="latency_cap_s"):
        allocate(Q, A, 1e6, objective="energy", max_tx_power_w=0.1, latency_cap_s=1.0)
    with pytest.raises(InfeasibleError, match="latency_cap_s"):
        allocate(Q, A, 1e6, access="tdma", latency_cap_s=1e-3)
    assert issubclass(SolverError, Exception)


def test_grouped_payloads_with_the_round_model():
    from wirelora.allocation.scenario import random_instance

    q, draw = random_instance(30, seed=0)
    a = draw()
    q[0, :5] = 0.0  # group 0 skips five links
    t0 = allocate(q, a, 20e6).round_latency_s
    kw = {"objective": "energy", "latency_cap_s": 2 * t0, "max_tx_power_w": 0.1}
    exact = allocate(q, a, 20e6, **kw)
    assert exact.bandwidth_hz.shape == q.shape and np.all(exact.bandwidth_hz[q == 0] == 0)
    assert np.all(exact.tx_power_w[q == 0] == 0) and np.all(exact.link_latency_s[q == 0] == 0)
    solved = allocate(q, a, 20e6, method="cvxpy", **kw)
    assert solved.objective_value == pytest.approx(exact.objective_value, rel=1e-6)
    tdma = allocate(q, a, 20e6, access="tdma", compute_time_s=0.01)
    assert np.all(tdma.time_share[q == 0] == 0) and tdma.time_share.sum() == pytest.approx(1.0, rel=1e-12)


def test_uplink_scenario_fields_are_validated():
    from wirelora.allocation.scenario import Scenario
    from wirelora.config import ConfigError

    ok = Scenario(total_bandwidth_hz=2e7, num_users=5, payload_bits=28100.0, power_variable=True)
    assert ok.num_users == 5
    for kw, field in (
        ({"num_users": 0, "payload_bits": 1.0}, "num_users"),
        ({"num_users": 5}, "payload_bits"),
        ({"num_users": 5, "payload_bits": 1.0, "num_devices": 4}, "num_users"),
        ({"num_users": 5, "payload_bits": 1.0, "access": "cdma"}, "access"),
        (
            {"num_users": 5, "payload_bits": 1.0, "latency_cap_s": 1.0, "latency_cap_x_minmax": 2.0},
            "latency_cap",
        ),
        ({"num_users": 5, "payload_bits": 1.0, "kappa": -1.0}, "kappa"),
    ):
        with pytest.raises(ConfigError, match=field):
            Scenario(total_bandwidth_hz=2e7, **kw)
