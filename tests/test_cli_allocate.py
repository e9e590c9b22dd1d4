"""`wirelora allocate`: the readable default, --json, --plot, bundled examples, and one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from wirelora.allocation.scenario import bundled_examples, load_scenario, solve_scenario
from wirelora.cli import main


def run(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_default_prints_a_table(capsys):
    rc, out, err = run(["allocate"], capsys)
    assert rc == 0, err
    assert "round latency" in out and "bandwidth MHz" in out and "equal split" in out


def test_worked_example_json(capsys):
    rc, out, _ = run(["allocate", "worked", "--json"], capsys)
    assert rc == 0
    data = json.loads(out)
    keys = ("status", "objective", "round_latency_s", "bandwidth_hz", "link_latency_s", "total_bandwidth_hz")
    assert all(key in data for key in keys)
    assert data["status"] == "optimal" and data["objective"] == "minmax"
    assert data["round_latency_s"] == pytest.approx(4.91553, abs=5e-6)
    np.testing.assert_allclose(
        np.array(data["bandwidth_hz"]) / 1e6, [0.107896, 0.326641, 0.565463], atol=5e-7
    )


@pytest.mark.parametrize("name", bundled_examples())
def test_every_bundled_example_solves(name):
    cfg = load_scenario(name)
    uncapped = cfg.latency_cap_s is None and cfg.latency_cap_x_minmax is None
    for objective in dict.fromkeys(("minmax", "weighted", "energy", cfg.objective)):
        if objective == "energy" and cfg.power_variable and uncapped:
            with pytest.raises(ValueError, match="latency_cap_s"):  # energy falls without bound
                solve_scenario(cfg, objective)
            continue
        _, alloc, equal = solve_scenario(cfg, objective)
        assert alloc.status == "optimal"
        if alloc.time_share is not None:
            assert alloc.time_share.sum() <= 1 + 1e-12
        else:
            assert alloc.bandwidth_hz.sum() <= cfg.total_bandwidth_hz * (1 + 1e-7)
        # never worse than the equal split on its own objective (when the split meets the constraints)
        if cfg.budget is None and uncapped:
            assert alloc.objective_value <= equal.objective_value * (1 + 1e-9)


def test_round_examples_json_records_and_plot(tmp_path, capsys):
    rc, out, err = run(["allocate", "yang_compute", "--json", "--records"], capsys)
    assert rc == 0, err
    data = json.loads(out)
    assert len(data["records"]) == 50 and {"tx_power_w", "cpu_hz", "compute_energy_j"} <= set(data)
    rec = data["records"][0]
    assert {"link", "group", "bandwidth_hz", "tx_power_w", "latency_s", "energy_j", "cpu_hz"} <= set(rec)
    assert max(r["tx_power_w"] for r in data["records"]) <= 0.01 * (1 + 1e-9)  # 10 dBm
    rc, out, _ = run(["allocate", "worked", "--json"], capsys)
    assert "records" not in json.loads(out) and "tx_power_w" not in json.loads(out)
    png = tmp_path / "yang.png"
    rc, out, err = run(["allocate", "yang", "--plot", str(png)], capsys)
    assert rc == 0 and png.is_file() and "tx power" in out


def test_yang_instance_saves_energy_over_fixed_power():
    from dataclasses import replace

    cfg = load_scenario("yang")
    _, joint, _ = solve_scenario(cfg)
    _, fixed, _ = solve_scenario(replace(cfg, power_variable=False))
    assert joint.round_latency_s == pytest.approx(fixed.round_latency_s, rel=1e-9)  # both at the cap
    assert joint.objective_value < 0.5 * fixed.objective_value


def test_objective_override_and_plot(tmp_path, capsys):
    png = tmp_path / "alloc.png"
    rc, out, err = run(["allocate", "gains", "--objective", "energy", "--plot", str(png)], capsys)
    assert rc == 0, err
    assert "energy =" in out
    assert png.is_file() and png.stat().st_size > 1000


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


BAD = [
    ("missing.json", '{"links": [{"payload_bits": 1e6, "link_snr_hz": 1e7}]}', "total_bandwidth_hz"),
    (
        "neg.json",
        '{"total_bandwidth_hz": 1e6, "links": [{"payload_bits": -1, "link_snr_hz": 1e7}]}',
        "links[0].payload_bits=-1",
    ),
    (
        "zero.json",
        '{"total_bandwidth_hz": 0, "links": [{"payload_bits": 1e6, "link_snr_hz": 1e7}]}',
        "total_bandwidth_hz=0",
    ),
    (
        "nan.yaml",
        "total_bandwidth_hz: 1.0e+6\nlinks:\n  - {payload_bits: .nan, link_snr_hz: 1.0e+7}\n",
        "links[0].payload_bits",
    ),
    (
        "text.json",
        '{"total_bandwidth_hz": "wide", "links": [{"payload_bits": 1e6, "link_snr_hz": 1e7}]}',
        "total_bandwidth_hz='wide'",
    ),
    ("empty.json", '{"total_bandwidth_hz": 1e6, "links": []}', "links"),
    (
        "objective.json",
        '{"total_bandwidth_hz": 1e6, "objective": "fast", "links": [{"payload_bits": 1e6, '
        '"link_snr_hz": 1e7}]}',
        "objective='fast'",
    ),
    ("broken.json", '{"total_bandwidth_hz": 1e6, "links": [', "malformed"),
    ("broken.yaml", "total_bandwidth_hz: [1\n", "malformed"),
    (
        "cap.json",
        '{"total_bandwidth_hz": 1e6, "latency_cap_s": 0.5, "links": [{"payload_bits": 8e6, '
        '"link_snr_hz": 1e7}]}',
        "link [0]",
    ),
    (
        "unknown.json",
        '{"total_bandwidth_hz": 1e6, "bandwith": 3, "links": [{"payload_bits": 1e6, "link_snr_hz": 1e7}]}',
        "bandwith",
    ),
    (
        "both.json",
        '{"total_bandwidth_hz": 1e6, "links": [{"payload_bits": 1e6, "link_snr_hz": 1e7, "gain_db": -100}]}',
        "link_snr_hz",
    ),
]


@pytest.mark.parametrize(("name", "text", "needle"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, name, text, needle):
    rc, out, err = run(["allocate", _write(tmp_path, name, text)], capsys)
    assert rc == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert needle in lines[0]


def test_unknown_objective_flag_and_missing_file(capsys):
    rc, _, err = run(["allocate", "worked", "--objective", "fastest"], capsys)
    assert rc == 2 and "--objective='fastest'" in err
    rc, _, err = run(["allocate", "no/such/scenario.yaml"], capsys)
    assert rc == 2 and "no such file" in err


def test_python_dash_m_end_to_end():
    proc = subprocess.run(
        [sys.executable, "-m", "wirelora", "allocate", "worked"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "4.91553" in proc.stdout
