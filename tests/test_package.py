"""A built wheel is a working wirelora: model cards, the tiny-LM checkpoint and the shipped configs are
package data, so a short training run works from the installed wheel alone, in another directory."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_and_trains_from_another_directory(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("wirelora-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "wirelora/models/tiny-lm.yaml",
        "wirelora/models/tiny-lm/model.safetensors",
        "wirelora/experiments/configs/leave-only.yaml",
    ):
        assert needed in names, f"{needed} is not in the wheel"
    site = tmp_path / "site"  # the wheel alone (its dependencies come from this interpreter's environment)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    where = subprocess.run(
        [sys.executable, "-c", "import wirelora; print(wirelora.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(site)), where  # the installed wheel, not the checkout
    overrides = ["trainer.rounds=3", "events=[]", "oracle.enabled=false", "trainer.eval_every=3"]
    argv = [
        sys.executable,
        "-m",
        "wirelora",
        "run",
        "leave-only",
        "--out",
        str(work / "run"),
        "--no-progress",
    ]
    for o in overrides:
        argv += ["--set", o]
    res = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    history = json.loads((work / "run" / "history.json").read_text())
    assert len(history["rounds"]) == 3
