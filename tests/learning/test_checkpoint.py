"""Resume refuses a checkpoint that is not this run's, in one line naming the file; a good one resumes."""

import pytest
import torch
from tiny_runs import tiny_run_raw

from wirelora.config import from_dict
from wirelora.errors import CheckpointError
from wirelora.files import load_tree, save_tree
from wirelora.learning import RunConfig, run
from wirelora.learning.checkpoint import CHECKPOINT_FILE

RAW = tiny_run_raw()


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = from_dict(RunConfig, RAW)
    run(cfg, seed=1, out_dir=out, stop_after=2)
    return cfg, (out / CHECKPOINT_FILE).read_bytes()


def _edit(tree, how):
    if how == "round":
        tree["round"] = 500
    elif how == "missing":
        del tree["opt"]
    elif how == "shape":
        name = next(iter(tree["blocks"]))
        tree["blocks"][name] = torch.zeros(2, 3)
    elif how == "member":
        tree["members"] = ["d0", "stranger"]
    return tree


@pytest.mark.parametrize(
    ("how", "needle"),
    [("round", "round=500"), ("missing", "missing opt"), ("shape", "has shape"), ("member", "'stranger'")],
)
def test_a_checkpoint_of_another_run_is_refused(tmp_path, stopped, how, needle):
    cfg, good = stopped
    path = tmp_path / CHECKPOINT_FILE
    path.write_bytes(good)
    save_tree(path, _edit(load_tree(path), how))
    with pytest.raises(CheckpointError, match=needle) as err:
        run(cfg, seed=1, out_dir=tmp_path, resume=True)
    assert str(path) in str(err.value)


def test_a_good_checkpoint_resumes_to_the_uninterrupted_history(tmp_path, stopped):
    cfg, good = stopped
    (tmp_path / CHECKPOINT_FILE).write_bytes(good)
    resumed = run(cfg, seed=1, out_dir=tmp_path, resume=True)
    assert resumed.without_timing()["rounds"] == run(cfg, seed=1).without_timing()["rounds"]


def test_a_checkpoint_that_is_a_directory_is_refused_before_training(tmp_path, stopped):
    cfg, _ = stopped
    (tmp_path / CHECKPOINT_FILE).mkdir()
    with pytest.raises(CheckpointError, match="not a regular file"):
        run(cfg, seed=1, out_dir=tmp_path, resume=True)
    assert not (tmp_path / "history.json").exists()


def test_blocks_that_blow_up_stop_the_run_naming_round_device_and_layer():
    from wirelora.errors import DivergenceError

    raw = {**RAW, "trainer": {**RAW["trainer"], "optimizer": "sgd", "step_size": 1e30, "max_loss": 1e300}}
    with pytest.raises(DivergenceError, match=r"round 0: device d\d layer \S+: block norm .*max_block_norm"):
        run(from_dict(RunConfig, raw), seed=0)
