"""Statistics over seeds: the t-interval against scipy's, paired differences against the unpaired ones."""

import numpy as np
import pytest
from scipy import stats as sps

from wirelora.evaluation.stats import band_of, describe, mean_of, paired


def test_describe_matches_scipy_t_interval():
    v = [0.157, -0.348, 0.297, -0.439, 0.05]
    d = describe(v)
    lo, hi = sps.t.interval(0.95, df=len(v) - 1, loc=np.mean(v), scale=sps.sem(v))
    assert d["n"] == 5 and d["per_seed"] == v
    np.testing.assert_allclose([d["lo"], d["hi"]], [lo, hi], rtol=1e-12)
    np.testing.assert_allclose(d["half_width"], (hi - lo) / 2, rtol=1e-12)


def test_describe_curves_elementwise_and_missing_values():
    d = describe([[1.0, None, 3.0], [2.0, 5.0, 5.0]])
    assert d["mean"] == [1.5, None, 4.0]
    assert d["lo"][1] is None and d["half_width"][0] == pytest.approx(sps.t.ppf(0.975, 1) * 0.5)
    with pytest.raises(ValueError, match="different shapes"):
        describe([[1.0, 2.0], [1.0]])


def test_one_seed_has_no_interval():
    d = describe([0.3])
    assert d == {"n": 1, "mean": 0.3, "lo": None, "hi": None, "half_width": None, "per_seed": [0.3]}
    p = paired([0.3], [0.1], vs="proposed")
    assert p["excludes_zero"] is None and p["mean"] == pytest.approx(0.2)
    assert band_of(d) is None and mean_of(d) == 0.3
    assert mean_of([1.0, 2.0]) == [1.0, 2.0] and band_of([1.0, 2.0]) is None  # a file from before --seeds


def test_paired_difference_resolves_what_the_seed_spread_hides():
    # the seed moves both methods together (spread ~0.7), the methods differ by 0.03 on every seed
    seed_effect = np.array([0.157, -0.348, 0.297, -0.439, 0.2, -0.1, 0.05, 0.3])
    a, b = seed_effect + 0.03, seed_effect + np.array([0.0, 0.001, -0.001, 0.0, 0.002, -0.002, 0.0, 0.001])
    da, db = describe(a.tolist()), describe(b.tolist())
    assert da["lo"] < db["mean"] < da["hi"]  # unpaired: the intervals overlap, nothing resolved
    p = paired(a.tolist(), b.tolist(), vs="b")
    assert p["vs"] == "b" and p["excludes_zero"] is True and p["lo"] > 0
    np.testing.assert_allclose(p["per_seed"], a - b)
    same = paired(a.tolist(), a.tolist(), vs="a")
    assert same["mean"] == 0 and same["excludes_zero"] is False
    curve = paired([[1.0, 0.0], [1.2, 0.1], [0.9, -0.1]], [[0.0, 0.0]] * 3, vs="zero")
    assert curve["excludes_zero"] == [True, False]
    with pytest.raises(ValueError, match="not the same seeds"):
        paired([1.0, 2.0], [1.0], vs="x")
