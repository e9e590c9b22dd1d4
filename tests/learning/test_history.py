import json

import numpy as np
import pytest

from wirelora.learning.history import History


def test_save_load_roundtrip_and_nan_to_null(tmp_path):
    h = History(config={"seed": 1, "trainer": {"rounds": 2}})
    h.append(
        {
            "round": 0,
            "members": ["d0"],
            "retain_loss": np.float32(0.5),
            "join_loss": None,
            "forget_loss": float("nan"),
            "bits_sent": np.int64(12),
            "wall_time_s": 0.1,
        }
    )
    h.append(
        {
            "round": 1,
            "members": ["d0"],
            "retain_loss": 0.25,
            "join_loss": None,
            "forget_loss": None,
            "bits_sent": 0,
            "wall_time_s": 0.2,
        }
    )
    path = h.save(tmp_path)
    data = json.loads(path.read_text())
    assert data["rounds"][0]["forget_loss"] is None and data["rounds"][0]["bits_sent"] == 12
    back = History.load(tmp_path)
    assert back.to_json() == h.to_json()
    np.testing.assert_array_equal(back.series("retain_loss"), [0.5, 0.25])
    assert np.isnan(back.series("join_loss")).all()
    assert "wall_time_s" not in back.without_timing()["rounds"][0]


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        History.load(tmp_path)
    (tmp_path / "history.json").write_text("{bad")
    with pytest.raises(ValueError, match="malformed JSON"):
        History.load(tmp_path)
    (tmp_path / "history.json").write_text("[]")
    with pytest.raises(ValueError, match="'config' and 'rounds'"):
        History.load(tmp_path)


def test_save_is_atomic_no_temp_left(tmp_path):
    h = History(config={})
    for _ in range(3):
        h.save(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["history.json"]


def test_a_run_records_where_it_came_from_and_equality_ignores_it():
    import importlib.metadata

    from wirelora.config import from_dict
    from wirelora.learning import RunConfig, run

    raw = {
        "model": {"name": "tiny-mlp"},
        "task": {
            "kind": "clusters",
            "num_devices": 3,
            "initial_devices": 3,
            "train_per_device": 8,
            "eval_per_device": 4,
        },
        "trainer": {"rounds": 2, "batch_size": 4},
    }
    h = run(from_dict(RunConfig, raw), seed=0)
    prov = h.meta["provenance"]
    assert prov["versions"]["torch"] == importlib.metadata.version("torch")
    assert prov["versions"]["wirelora"] == importlib.metadata.version("wirelora")
    assert h.meta["threads"] >= 1
    assert "provenance" not in h.without_timing()["meta"]
