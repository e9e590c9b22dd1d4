"""The CLI's own errors: argparse mistakes are one line (no usage), a pipe closed early is no error."""

import subprocess
import sys
from pathlib import Path

import pytest

from wirelora.allocation.scenario import EXAMPLES_DIR

CLI = [sys.executable, "-m", "wirelora"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run"], "the following arguments are required: config"),
        (["allocate", "--bogus"], "unrecognized arguments: --bogus"),
        (["bogus"], "invalid choice: 'bogus'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_argparse_errors_are_one_line(argv, needle):
    res = subprocess.run([*CLI, *argv], capture_output=True, text=True)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], res.stderr


def test_a_pipe_closed_early_is_not_an_error(tmp_path):
    text = (Path(EXAMPLES_DIR) / "example.yaml").read_text().replace("num_devices: 8", "num_devices: 120")
    scenario = tmp_path / "big.yaml"
    scenario.write_text(text)
    proc = subprocess.Popen(
        [*CLI, "allocate", str(scenario), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout.read(16)  # the reader takes a little, then goes away
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait() == 0 and err == "", err


def _scenario(tmp_path, num_devices: int):
    text = (
        (Path(EXAMPLES_DIR) / "example.yaml")
        .read_text()
        .replace("num_devices: 8", f"num_devices: {num_devices}")
    )
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--plot", "/dev/null/x.png"], "'/dev/null' is not a directory"),
        (["--plot", "."], "is a directory"),
        (["SCENARIO:100000"], "num_devices=100000: at most 4096"),
        (["SCENARIO:200", "--plot", "PLOT"], "at most 2000 (this scenario has"),
    ],
)
def test_allocate_refuses_before_printing_or_allocating(tmp_path, argv, needle):
    argv = [a if a != "PLOT" else str(tmp_path / "p.png") for a in argv]
    argv = [_scenario(tmp_path, int(a.split(":")[1])) if a.startswith("SCENARIO:") else a for a in argv]
    res = subprocess.run([*CLI, "allocate", *argv], capture_output=True, text=True)
    assert res.returncode == 2 and res.stdout == "", res.stdout[:200]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], res.stderr


@pytest.mark.parametrize("content", ['{"data": {}}', '{"data": null}', '{"data": {"x": 1}}', "garbage", ""])
def test_reproduce_from_bad_data_is_one_line(tmp_path, content):
    (tmp_path / "fig3.json").write_text(content)
    res = subprocess.run(
        [*CLI, "reproduce", "fig3", "--from-data", "--out", str(tmp_path)], capture_output=True, text=True
    )
    assert res.returncode == 2
    assert (
        res.stderr.strip().splitlines()[-1].startswith("wirelora reproduce: error: ")
        and "fig3.json" in res.stderr
    )
    assert "Traceback" not in res.stderr


def test_reproduce_out_naming_a_file_is_one_line(tmp_path):
    f = tmp_path / "f"
    f.write_text("")
    res = subprocess.run(
        [*CLI, "reproduce", "alloc", "--out", str(f / "sub")], capture_output=True, text=True
    )
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "is a file" in res.stderr


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        ("dup_group", "groups[].name='early': names a group twice"),
        ("list_group", "group=[1, 2]: must be a group"),
    ],
)
def test_scenario_names_are_checked(tmp_path, edit, needle):
    import yaml

    if edit == "dup_group":
        raw = yaml.safe_load((Path(EXAMPLES_DIR) / "example.yaml").read_text())
        raw["groups"][1]["name"] = raw["groups"][0]["name"]
    else:
        raw = {
            "total_bandwidth_hz": 1e6,
            "links": [{"payload_bits": 1e5, "link_snr_hz": 1e7, "group": [1, 2]}],
        }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(raw))
    res = subprocess.run([*CLI, "allocate", str(path)], capture_output=True, text=True)
    assert res.returncode == 2 and needle in res.stderr and res.stderr.count("\n") == 1
