"""TensorBoard: the event file read back holds every History number at its round, once after a resume."""

import sys

import numpy as np
import pytest
from tiny_runs import tiny_run_raw

from wirelora.config import ConfigError, from_dict
from wirelora.learning import RunConfig, run
from wirelora.learning.tracking import TensorBoardWriter, require_tensorboard, scalars

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

RAW = tiny_run_raw(**{"trainer.eval_every": 2})  # rounds 1 and 3 are not evaluated: no loss scalars there


def _read(log_dir) -> dict[str, dict[int, float]]:
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: {e.step: e.value for e in acc.Scalars(tag)} for tag in acc.Tags()["scalars"]}


def _expected(rounds) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = {}
    for rec in rounds:
        for tag, value in scalars(rec):
            out.setdefault(tag, {})[rec["round"]] = value
    return out


def _assert_same(read, expected, *, skip_values=()):
    assert sorted(read) == sorted(expected)
    for tag, by_round in expected.items():
        assert sorted(read[tag]) == sorted(by_round), tag
        if tag in skip_values:
            continue
        got = np.array([read[tag][r] for r in sorted(by_round)])
        want = np.array([by_round[r] for r in sorted(by_round)], dtype=np.float32)  # stored as float32
        np.testing.assert_array_equal(got, want, err_msg=tag)


def test_scalars_flatten_numbers_and_skip_the_rest():
    rec = {
        "round": 3,
        "retain_loss": 0.5,
        "forget_loss": None,
        "members": ["d0"],
        "bits_sent": 12,
        "group": {"a": 1.5, "b": float("nan")},
        "schedule": {"a": {"sync": True, "step_size": 0.1}},
    }
    assert dict(scalars(rec)) == {
        "retain_loss": 0.5,
        "bits_sent": 12.0,
        "group/a": 1.5,
        "schedule/a/step_size": 0.1,
    }


def test_event_file_holds_every_round(tmp_path):
    history = run(from_dict(RunConfig, RAW), seed=1, tensorboard=tmp_path / "tb")
    read = _read(tmp_path / "tb")
    _assert_same(read, _expected(history.rounds))
    assert sorted(read["retain_loss"]) == [0, 2, 4, 5]  # evaluated rounds only (and the last)
    assert sorted(read["consensus_distance"]) == list(range(6))
    assert "consensus_distance_group/" + next(iter(history.rounds[0]["consensus_distance_group"])) in read


def test_resume_purges_what_the_interrupted_writer_logged_after_the_checkpoint(tmp_path):
    cfg = from_dict(RunConfig, RAW)
    full = run(cfg, seed=1)
    tb = tmp_path / "tb"
    run(cfg, seed=1, out_dir=tmp_path / "run", stop_after=2, tensorboard=tb)  # checkpoint after round 2
    stale = TensorBoardWriter(tb)  # as if the killed run had logged round 3 before dying
    stale.append({"round": 3, "retain_loss": 99.0, "consensus_distance": 99.0})
    stale.close()
    run(cfg, seed=1, out_dir=tmp_path / "run", resume=True, tensorboard=tb)
    read = _read(tb)
    _assert_same(read, _expected(full.rounds), skip_values={"wall_time_s"})  # the one number runs differ in
    assert 99.0 not in read["consensus_distance"].values()


def test_missing_tensorboard_or_a_file_is_one_line(tmp_path, monkeypatch):
    f = tmp_path / "f"
    f.write_text("")
    with pytest.raises(ConfigError, match=r"--tensorboard='.*f': is a file"):
        require_tensorboard(f)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import now raises ImportError
    with pytest.raises(
        ConfigError, match=r"needs the tensorboard package \(pip install 'wirelora\[tensorboard\]'\)"
    ):
        require_tensorboard(tmp_path / "tb")
