"""A run directory has one owner and one identity: another run is refused before anything is written, a second
process is refused by the lock, the same run continues, --force replaces."""

import json
import os
import subprocess
import sys

import pytest

from wirelora.config import ConfigError
from wirelora.experiments.rundir import LOCK_FILE, claim

CFG = {"name": "a", "seed": 0}


def test_the_same_run_continues_and_another_is_refused_without_writing(tmp_path):
    with claim(tmp_path, CFG):
        pass
    (tmp_path / "history.json").write_text("{}")
    with claim(tmp_path, CFG) as cfg:
        assert cfg == CFG and (tmp_path / "history.json").exists()  # nothing removed
    before = (tmp_path / "config.json").read_text()
    with pytest.raises(ConfigError, match=r"holds another run \(seed=0 there, 1 here\).*--force"):
        with claim(tmp_path, {**CFG, "seed": 1}):
            pass
    assert (tmp_path / "config.json").read_text() == before  # the original can still be resumed
    assert not (tmp_path / LOCK_FILE).exists()


def test_force_replaces_only_the_run_files(tmp_path):
    with claim(tmp_path, CFG):
        pass
    (tmp_path / "history.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("mine")
    with claim(tmp_path, {**CFG, "seed": 1}, force=True):
        pass
    assert json.loads((tmp_path / "config.json").read_text())["seed"] == 1
    assert not (tmp_path / "history.json").exists() and (tmp_path / "notes.txt").read_text() == "mine"


def test_results_without_a_config_are_not_adopted(tmp_path):
    (tmp_path / "checkpoint.safetensors").write_bytes(b"x")
    with pytest.raises(ConfigError, match="holds checkpoint.safetensors but no config.json"):
        with claim(tmp_path, CFG):
            pass


def test_a_live_process_holding_the_lock_is_named(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / LOCK_FILE).write_text(f"{sleeper.pid}\n")
        with pytest.raises(ConfigError, match=f"in use by process {sleeper.pid}"):
            with claim(tmp_path, CFG):
                pass
    finally:
        sleeper.kill()
        sleeper.wait()
    with claim(tmp_path, CFG):  # the holder is gone: its lock is taken over
        assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())


@pytest.mark.parametrize("where", ["file", "under_file"])
def test_out_naming_a_file_is_one_line(tmp_path, where):
    f = tmp_path / "f"
    f.write_text("")
    out = f if where == "file" else f / "run"
    with pytest.raises(ConfigError, match="is a file, not a directory"):
        with claim(out, CFG):
            pass


def test_stale_temporary_files_are_cleared(tmp_path):
    (tmp_path / ".history.json.abc.tmp").write_bytes(b"")
    with claim(tmp_path, CFG):
        pass
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_run_failing_before_its_first_result_leaves_no_trace(tmp_path):
    out = tmp_path / "new"
    with pytest.raises(ConfigError, match="boom"):
        with claim(out, CFG):
            raise ConfigError("boom")
    assert not out.exists()
    with claim(out, {**CFG, "seed": 1}):  # so a corrected config can use the directory at once
        pass
