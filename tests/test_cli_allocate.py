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
    for objective in ("minmax", "weighted", "energy"):
        _, alloc, equal = solve_scenario(cfg, objective)
        assert alloc.status == "optimal"
        assert alloc.bandwidth_hz.sum() <= cfg.total_bandwidth_hz * (1 + 1e-7)
        # never worse than the equal split on its own objective (when the split meets the constraints)
        if cfg.budget is None and cfg.latency_cap_s is None:
            assert alloc.objective_value <= equal.objective_value * (1 + 1e-9)


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
