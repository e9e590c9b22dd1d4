import numpy as np
import pytest

from wirelora.allocation.scenario import build_problem, load_scenario
from wirelora.config import ConfigError
from wirelora.units import dbm_to_w


def test_generated_scenario_is_seeded(tmp_path):
    p = tmp_path / "gen.yaml"
    p.write_text(
        "total_bandwidth_hz: 1.0e+7\nnum_devices: 6\nseed: 3\ndensity: 0.5\n"
        "groups:\n  - {name: a, payload_bits: 1.0e+5, priority: 1}\n"
        "  - {name: b, payload_bits: 2.0e+5, density: 1}\n"
    )
    one, two = build_problem(load_scenario(p)), build_problem(load_scenario(p))
    np.testing.assert_array_equal(one.link_snr_hz, two.link_snr_hz)
    np.testing.assert_array_equal(one.payload_bits, two.payload_bits)
    assert one.payload_bits.shape == (2, 15)  # group b uses every pair of 6 devices
    assert np.all(one.payload_bits[1] == 2e5)
    assert np.all(np.isin(one.payload_bits[0], [0.0, 1e5]))


def test_gain_db_becomes_link_snr_hz():
    prob = build_problem(load_scenario("gains"))
    # p h / N0 with p = 20 dBm, h = -95 dB, N0 = -174 dBm/Hz
    assert prob.link_snr_hz[0] == pytest.approx(dbm_to_w(20) * 10 ** (-9.5) / dbm_to_w(-174))


def test_generated_scenario_needs_groups(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("total_bandwidth_hz: 1.0e+7\nnum_devices: 6\n")
    with pytest.raises(ConfigError, match="groups"):
        load_scenario(p)
    p.write_text("total_bandwidth_hz: 1.0e+7\nnum_devices: 6\ngroups:\n  - {name: a, payload_bits: -5}\n")
    with pytest.raises(ConfigError, match=r"groups\[0\].payload_bits=-5"):
        load_scenario(p)
