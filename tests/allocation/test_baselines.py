import numpy as np
import pytest

from wirelora.allocation import allocate
from wirelora.allocation.baselines import equal_split, proportional_split, slsqp_minmax

Q = np.array([[4e6, 8e6, 16e6], [2e6, 0.0, 3e6]])
A = np.array([2e7, 1e7, 3e7])


def test_equal_and_proportional_splits():
    eq = equal_split(Q, 1e6)
    np.testing.assert_allclose(eq[Q > 0], 1e6 / 5)
    assert eq[1, 1] == 0.0
    prop = proportional_split(Q, 1e6)
    assert prop.sum() == pytest.approx(1e6)
    np.testing.assert_allclose(prop / Q.sum(), Q / Q.sum() * 1e6 / Q.sum())


def test_optimum_beats_the_baselines():
    opt = allocate(Q, A, 1e6)
    for b in (equal_split(Q, 1e6), proportional_split(Q, 1e6)):
        rate = b * np.log1p(A / np.where(b > 0, b, 1)) / np.log(2)
        lat = np.where(Q > 0, Q / np.where(rate > 0, rate, 1), 0)
        assert lat.max() > opt.round_latency_s * (1 + 1e-3)


def test_slsqp_reaches_the_worked_optimum():
    t, b, res = slsqp_minmax(np.array([4e6, 8e6, 16e6]), A, 1e6)
    assert t == pytest.approx(4.91553, abs=5e-5)
    assert b.sum() == pytest.approx(1e6)
