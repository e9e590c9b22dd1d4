import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirelora.units import db_to_lin, dbm_to_w
from wirelora.wireless import channel as C


def test_place_devices_in_disc_and_seeded():
    pos = C.place_devices(2000, 250.0, rng=np.random.default_rng(0))
    assert pos.shape == (2000, 2)
    r = np.linalg.norm(pos, axis=1)
    assert r.max() <= 250.0
    # uniform in area: P(r < R/2) = 1/4
    assert abs(np.mean(r < 125.0) - 0.25) < 0.03
    again = C.place_devices(2000, 250.0, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(pos, again)


def test_pairwise_distance_matches_loop():
    pos = np.array([[0.0, 0.0], [3.0, 4.0], [-6.0, 8.0]])
    d = C.pairwise_distance_m(pos)
    expect = np.array([[np.hypot(*(p - q)) for q in pos] for p in pos])
    np.testing.assert_allclose(d, expect)
    assert d[0, 1] == 5.0 and d[0, 2] == 10.0


def test_path_loss_reference_points():
    assert C.path_loss_db(1000.0) == pytest.approx(128.1)
    assert C.path_loss_db(100.0) == pytest.approx(128.1 - 37.6)
    # 20 m: 128.1 + 37.6 log10(0.02)
    assert C.path_loss_db(20.0) == pytest.approx(128.1 + 37.6 * np.log10(0.02))


def test_rayleigh_fading_is_exp1():
    g = C.rayleigh_fading(200_000, rng=np.random.default_rng(1))
    assert g.min() >= 0
    assert g.mean() == pytest.approx(1.0, abs=0.01)
    assert g.var() == pytest.approx(1.0, abs=0.03)


def test_link_gain_symmetric_zero_diagonal_and_pluggable():
    rng = np.random.default_rng(2)
    pos = C.place_devices(6, rng=rng)
    g = C.link_gain_lin(pos, rng=rng)
    np.testing.assert_array_equal(g, g.T)
    np.testing.assert_array_equal(np.diag(g), 0.0)
    no_fade = C.link_gain_lin(pos, fading=False)
    d = C.pairwise_distance_m(pos)
    iu = np.triu_indices(6, 1)
    np.testing.assert_allclose(no_fade[iu], db_to_lin(-C.path_loss_db(d[iu])))
    fs = C.link_gain_lin(pos, fading=False, path_loss=C.free_space_path_loss_db)
    np.testing.assert_allclose(fs[iu], db_to_lin(-C.free_space_path_loss_db(d[iu])))
    with pytest.raises(ValueError, match="rng"):
        C.link_gain_lin(pos)


def test_link_snr_hz_formula_and_interference():
    gain = np.array([1e-10, 1e-12])
    a = C.link_snr_hz(gain, tx_power_dbm=20.0, noise_psd_dbm_hz=-174.0)
    np.testing.assert_allclose(a, 0.1 * gain / dbm_to_w(-174.0))
    with_i = C.link_snr_hz(gain, interference_w=1e-12, bandwidth_hz=1e6)
    np.testing.assert_allclose(with_i, 0.1 * gain / (dbm_to_w(-174.0) + 1e-18))
    with pytest.raises(ValueError, match="bandwidth_hz"):
        C.link_snr_hz(gain, interference_w=1e-12)


def test_realistic_span_of_link_snr():
    # devices 250 m disc, Rayleigh: link_snr_hz spans many decades (the allocator's hard case)
    _, snr = C.channel_snr_hz(40, rng=np.random.default_rng(3))
    off = snr[~np.eye(40, dtype=bool)]
    assert off.min() < 1e7 and off.max() > 1e10


def test_channel_config_validation():
    with pytest.raises(ValueError, match="radius_m"):
        C.ChannelConfig(radius_m=-1.0)
    with pytest.raises(ValueError, match="min_distance_m"):
        C.ChannelConfig(min_distance_m=0.0)
    with pytest.raises(ValueError, match="num_devices"):
        C.place_devices(0, rng=np.random.default_rng(0))


@settings(max_examples=50, deadline=None)
@given(st.floats(1.0, 1e4), st.floats(1.0, 1e4))
def test_path_loss_monotone(d1, d2):
    lo, hi = sorted((d1, d2))
    assert C.path_loss_db(lo) <= C.path_loss_db(hi)
