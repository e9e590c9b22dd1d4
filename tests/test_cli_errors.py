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
