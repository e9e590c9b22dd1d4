import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from wirelora.allocation import closed_form as ref
from wirelora.errors import InfeasibleError
from wirelora.wireless.rates import shannon_rate_bps

WORKED_Q = np.array([4e6, 8e6, 16e6])
WORKED_A = np.array([2e7, 1e7, 3e7])


def test_worked_case():
    # docs/method.md §7: T* = 4.91553 s, b = [0.107896, 0.326641, 0.565463] MHz
    t, b = ref.minmax_latency(WORKED_Q, WORKED_A, 1e6)
    assert t == pytest.approx(4.91553, abs=5e-6)
    np.testing.assert_allclose(b / 1e6, [0.107896, 0.326641, 0.565463], atol=5e-7)


def test_min_bandwidth_inverts_the_rate(rng):
    a = 10 ** rng.uniform(3, 13, 500)
    frac = np.concatenate([10 ** rng.uniform(-12, -1e-9, 497), [1 - 1e-6, 1 - 1e-9, 0.5]])
    rate = frac * a / np.log(2)
    b = ref.min_bandwidth_hz(rate, a)
    np.testing.assert_allclose(shannon_rate_bps(b, a), rate, rtol=1e-11)
    assert ref.min_bandwidth_hz(0.0, 1e6) == 0.0
    assert ref.min_bandwidth_hz(1e6 / np.log(2), 1e6) == np.inf  # at the ceiling a/ln2
    assert ref.min_bandwidth_hz(2e6, 1e6) == np.inf


@pytest.mark.parametrize("total_hz", [1e4, 2e7, 1e10])
def test_minmax_all_finish_together_and_use_the_band(rng, total_hz):
    q = rng.uniform(1e5, 1e7, (3, 40))
    q[rng.random(q.shape) < 0.2] = 0.0  # some groups skip some links
    a = 10 ** rng.uniform(4, 12, 40)
    t, b = ref.minmax_latency(q, a, total_hz)
    used = q > 0
    assert np.all(b[~used] == 0)
    assert b.sum() == pytest.approx(total_hz, rel=1e-12)
    lat = q[used] / shannon_rate_bps(b[used], np.broadcast_to(a, q.shape)[used])
    np.testing.assert_allclose(lat, t, rtol=1e-8)
    # the floor: no link can beat payload / (a / ln 2)
    assert t >= np.max(q * np.log(2) / a)


def _slsqp_weighted(q, a, w, total):
    # an independent solver on the same problem (only for small instances)
    def f(x):
        b = np.maximum(x, 1e-300) * total
        return np.sum(w * q / (b * np.log1p(a / b) / np.log(2)))

    x0 = np.full(q.size, 1.0 / q.size)
    res = minimize(
        f,
        x0,
        method="SLSQP",
        bounds=[(1e-9, 1)] * q.size,
        constraints=[{"type": "eq", "fun": lambda x: np.sum(x) - 1}],
        options={"ftol": 1e-14, "maxiter": 500},
    )
    return res.fun


def test_weighted_matches_slsqp_and_kkt(rng):
    for _ in range(5):
        q = rng.uniform(1e6, 1e7, 6)
        a = 10 ** rng.uniform(6, 8, 6)
        w = rng.uniform(0.1, 1.0, 6)
        obj, b = ref.weighted_latency(q, a, 1e6, w)
        assert b.sum() == pytest.approx(1e6, rel=1e-12)
        assert obj <= _slsqp_weighted(q, a, w, 1e6) * (1 + 1e-7)
        # KKT: equal marginal value w q R'(b) / R(b)^2 on every link
        x = b / a
        marginal = w * q * ref._dphi(x) / (a * ref._phi(x) ** 2) / a
        np.testing.assert_allclose(marginal, marginal[0], rtol=1e-8)


def test_weighted_with_caps_respects_them(rng):
    q = rng.uniform(1e6, 1e7, (3, 8))
    a = 10 ** rng.uniform(6, 9, 8)
    free_obj, free_b = ref.weighted_latency(q, a, 5e6, [1.0, 0.1, 0.01])
    lat = q / shannon_rate_bps(free_b, a)
    cap = float(np.quantile(lat, 0.7))
    obj, b = ref.weighted_latency(q, a, 5e6, [1.0, 0.1, 0.01], latency_cap_s=cap)
    capped_lat = q / shannon_rate_bps(b, a)
    assert capped_lat.max() <= cap * (1 + 1e-9)
    assert obj >= free_obj * (1 - 1e-12)


def test_weighted_caps_that_cannot_be_met():
    with pytest.raises(InfeasibleError):
        ref.weighted_latency(WORKED_Q, WORKED_A, 1e6, [1, 1, 1], latency_cap_s=1.0)


def test_weights_broadcast_per_group_and_validation():
    q = np.ones((2, 3)) * 1e6
    w = ref.broadcast_weights([1.0, 2.0], q)
    np.testing.assert_array_equal(w, [[1, 1, 1], [2, 2, 2]])
    with pytest.raises(ValueError, match="weights"):
        ref.broadcast_weights([1.0, 0.0], q)
    with pytest.raises(ValueError, match="weights"):
        ref.broadcast_weights([1.0, 2.0, 3.0, 4.0], q)


@pytest.mark.parametrize(
    ("q", "a", "total", "field"),
    [
        ([-1.0, 2.0], [1e6, 1e6], 1e6, "payload_bits"),
        ([1.0, np.nan], [1e6, 1e6], 1e6, "payload_bits"),
        ([0.0, 0.0], [1e6, 1e6], 1e6, "payload_bits"),
        ([], [], 1e6, "payload_bits"),
        ([1.0, 2.0], [1e6, 0.0], 1e6, "link_snr_hz"),
        ([1.0, 2.0], [1e6, 1e6, 1e6], 1e6, "link_snr_hz"),
        ([1.0, 2.0], [1e6, 1e6], 0.0, "total_bandwidth_hz"),
        ([1.0, 2.0], [1e6, 1e6], "wide", "total_bandwidth_hz"),
    ],
)
def test_bad_input_names_the_field(q, a, total, field):
    with pytest.raises(ValueError, match=field):
        ref.minmax_latency(q, a, total)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=6),
    st.floats(allow_nan=True, allow_infinity=True),
)
def test_validators_accept_exactly_the_valid_inputs(payload, total):
    q = np.array(payload)
    valid_q = bool(np.all(np.isfinite(q)) and np.all(q >= 0) and np.any(q > 0))
    valid_total = bool(np.isfinite(total) and total > 0)
    if valid_q and valid_total:
        got_q, _, got_total = ref.prepare(q, np.full(q.shape, 1e7), total)
        np.testing.assert_array_equal(got_q, q)
        assert got_total == total
    else:
        field = "payload_bits" if not valid_q else "total_bandwidth_hz"
        with pytest.raises(ValueError, match=field):
            ref.prepare(q, np.full(q.shape, 1e7), total)
