"""Checkpoint and cache files under abuse: every corruption, truncation or foreign file is one CheckpointError
naming the file; writes are atomic, leave no temporary files and have the usual file mode."""

import os
import pickle
import stat

import numpy as np
import pytest
import torch

from wirelora.errors import CheckpointError
from wirelora.files import atomic_write_text, load_tree, save_tree

TREE = {
    "round": 7,
    "blocks": {"layer.0": torch.arange(12.0).reshape(3, 4), "half": torch.ones(2, dtype=torch.bfloat16)},
    "array": np.linspace(0.0, 1.0, 5),
    "by_round": {3: {"loss": 0.25}, 5: {"loss": float("nan")}},
    "pair": ("d0", 2),
    "members": ["d1", "d2"],
    "nothing": None,
    "tricky": {"__tensor__": "not a tensor"},
}


def test_a_tree_round_trips_exactly(tmp_path):
    save_tree(tmp_path / "t.safetensors", TREE)
    back = load_tree(tmp_path / "t.safetensors")
    assert back["round"] == 7 and back["pair"] == ("d0", 2) and back["members"] == ["d1", "d2"]
    assert torch.equal(back["blocks"]["layer.0"], TREE["blocks"]["layer.0"])
    assert back["blocks"]["half"].dtype == torch.bfloat16
    assert np.array_equal(back["array"], TREE["array"])
    assert back["by_round"][3] == {"loss": 0.25} and np.isnan(back["by_round"][5]["loss"])
    assert back["nothing"] is None and back["tricky"] == {"__tensor__": "not a tensor"}


def _corrupt(kind: str, path, good: bytes) -> None:
    if kind == "flip":  # 64 bytes flipped in the middle of the tensor data
        data = bytearray(good)
        mid = len(data) - 40
        data[mid - 32 : mid + 32] = bytes(b ^ 0xFF for b in data[mid - 32 : mid + 32])
        path.write_bytes(bytes(data))
    elif kind == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("round: 3\n")
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"round": 3}))
    elif kind == "torch":
        torch.save({"round": 3}, path)
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "directory":
        path.unlink()
        path.mkdir()


@pytest.mark.parametrize(
    "kind", ["flip", "truncated", "empty", "text", "pickle", "torch", "random", "directory"]
)
def test_every_corruption_is_one_line_naming_the_file(tmp_path, kind):
    path = tmp_path / "checkpoint.safetensors"
    save_tree(path, {"blocks": {"a": torch.randn(64, 64)}, "round": 3})
    _corrupt(kind, path, path.read_bytes() if path.is_file() else b"")
    with pytest.raises(CheckpointError) as err:
        load_tree(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_writes_leave_no_temporary_file_and_the_usual_mode(tmp_path):
    atomic_write_text(tmp_path / "a.json", "{}")
    save_tree(tmp_path / "b.safetensors", {"x": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.safetensors"]
    umask = os.umask(0)
    os.umask(umask)
    for p in tmp_path.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "t.safetensors"
    save_tree(path, {"x": 1})
    with pytest.raises(TypeError, match="cannot store"):
        save_tree(path, {"x": object()})
    assert load_tree(path) == {"x": 1} and [p.name for p in tmp_path.iterdir()] == ["t.safetensors"]
