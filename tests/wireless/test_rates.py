import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirelora.wireless import rates as R


def test_shannon_rate_reference_values():
    # b log2(1 + a/b): 1 MHz at a = 3e6 Hz -> 2 Mbit/s
    assert R.shannon_rate_bps(1e6, 3e6) == pytest.approx(2e6)
    assert R.shannon_rate_bps(0.0, 3e6) == 0.0
    np.testing.assert_allclose(R.shannon_rate_bps(np.array([1e6, 2e6]), 1e6), [1e6, 2e6 * np.log2(1.5)])


def test_latency_energy_edge_cost():
    assert R.latency_s(8e6, 2e6) == pytest.approx(4.0)
    assert R.latency_s(0.0, 0.0) == 0.0
    assert R.latency_s(1.0, 0.0) == np.inf
    assert R.energy_j(0.1, 4.0) == pytest.approx(0.4)
    # eq. 8: c = payload + beta * payload / rate
    assert R.edge_cost(8e6, 2e6, 1e5) == pytest.approx(8e6 + 1e5 * 4.0)


def test_rate_rejects_negative_and_nan():
    with pytest.raises(ValueError, match="bandwidth_hz"):
        R.shannon_rate_bps(-1.0, 1e6)
    with pytest.raises(ValueError, match="link_snr_hz"):
        R.shannon_rate_bps(1.0, np.nan)


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-3, 1e12), st.floats(1e-3, 1e15), st.floats(1.01, 100.0))
def test_rate_properties(b, a, factor):
    r = R.shannon_rate_bps(b, a)
    # increasing in bandwidth, below the ceiling a/ln2, concave (chord below the curve)
    # (to a few ulps: near the ceiling, a << b, both rates round to the same a/ln2 give or take one ulp)
    assert R.shannon_rate_bps(b * factor, a) >= r * (1 - 4 * np.finfo(float).eps)
    assert r <= a / np.log(2) * (1 + 1e-12)
    mid = R.shannon_rate_bps(b * (1 + factor) / 2, a)
    assert mid >= (r + R.shannon_rate_bps(b * factor, a)) / 2 * (1 - 1e-12)
    # agrees with the textbook formula where that is accurate
    if a / b > 1e-6:
        assert r == pytest.approx(b * np.log2(1 + a / b), rel=1e-9)
