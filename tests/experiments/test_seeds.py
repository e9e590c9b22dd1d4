"""`reproduce --seeds N --jobs J`: per-seed directories, paired statistics, results independent of J, resume
seed by seed; the CLI refuses a bad count in one line; old single-seed data files still redraw."""

import json
import shutil

import numpy as np
import pytest

from wirelora.cli import main
from wirelora.evaluation.names import PAPER_METHODS
from wirelora.experiments import reproduce as rp

TINY = {
    "config": "leave-only-mlp",
    "overrides": ["trainer.rounds=4", "events=[{round: 2, leave: [d0]}]", "correction.rounds=2",
                  "oracle.rounds=2", "task.train_per_device=8", "task.eval_per_device=4"],
}  # fmt: skip


def _fig3(out, *, seeds, jobs=1):
    rp.reproduce(["fig3"], out_dir=out, progress=False, seeds=seeds, jobs=jobs, settings={"fig3": TINY})
    return rp.load_data("fig3", out)


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory):
    out = tmp_path_factory.mktemp("seeds")
    return out, _fig3(out / "a", seeds=2)


def test_seeds_are_paired_in_per_seed_directories(two_seeds):
    tmp_path, a = two_seeds
    assert a["settings"]["seeds"] == 2
    data = a["data"]
    base = data["seeds"][0]
    assert data["seeds"] == [base, base + 1]
    (sweep,) = (tmp_path / "a" / "runs").iterdir()
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == [f"seed-{base}", f"seed-{base + 1}"]
    for name, curve in data["event_gap"].items():
        per_seed = np.asarray(curve["per_seed"])
        assert per_seed.shape == (2, 3), name
        np.testing.assert_allclose(curve["mean"], per_seed.mean(axis=0))
        assert all(lo <= m <= hi for lo, m, hi in zip(curve["lo"], curve["mean"], curve["hi"]))
    assert not np.array_equal(*data["event_gap"]["proposed"]["per_seed"])  # the seeds differ
    for name, p in data["paired"]["event_gap_vs_proposed"].items():
        final = data["final"]["event_gap"]
        np.testing.assert_allclose(
            p["per_seed"], np.subtract(final[name]["per_seed"], final["proposed"]["per_seed"])
        )
        assert p["vs"] == "proposed" and isinstance(p["excludes_zero"], bool), name
    assert set(data["paired"]["event_gap_vs_proposed"]) == {*PAPER_METHODS, "no_correction"} - {"proposed"}


def test_results_do_not_depend_on_jobs(two_seeds):
    tmp_path, a = two_seeds
    b = _fig3(tmp_path / "b", seeds=2, jobs=2)  # the seeds in two processes: the same numbers
    assert b["data"] == a["data"]


def test_an_interrupted_reproduce_resumes_seed_by_seed(two_seeds):
    tmp_path, a = two_seeds
    data = a["data"]
    base = data["seeds"][0]
    (sweep,) = (tmp_path / "a" / "runs").iterdir()
    # an interrupted reproduce: seed 1 unfinished (no done mark, one run gone) -> only it is run again
    seed0, seed1 = sweep / f"seed-{base}", sweep / f"seed-{base + 1}"
    (seed1 / "done.json").unlink()
    shutil.rmtree(seed1 / "naive")
    stamp = (seed0 / "done.json").stat().st_mtime_ns
    c = _fig3(tmp_path / "a", seeds=3)  # and one seed more: seeds 0 and 1 are not mixed or rerun
    assert (seed0 / "done.json").stat().st_mtime_ns == stamp
    for name, curve in c["data"]["event_gap"].items():
        assert curve["per_seed"][:2] == data["event_gap"][name]["per_seed"], name


def test_one_seed_and_old_files_draw_without_an_interval(tmp_path):
    old = {n: [0.5, 0.2, 0.1] for n in [*PAPER_METHODS, "no_correction"]}  # before --seeds: bare curves
    record = {
        "target": "fig3",
        "quick": True,
        "settings": TINY,
        "data": {"event_gap": old, "forget_gap": old},
    }
    (tmp_path / "fig3.json").write_text(json.dumps(record))
    rp.reproduce(["fig3"], out_dir=tmp_path, from_data=True, progress=False)
    assert (tmp_path / "fig3.png").stat().st_size > 0
    fig = rp.TARGETS["fig3"].draw(record["data"])
    assert "1 seed (no interval)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert not fig.axes[0].collections  # no band


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "two"])
def test_bad_seed_count_is_one_line_naming_seeds(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "fig3", f"--seeds={value}", "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--seeds" in err and value in err
    with pytest.raises(ValueError, match="--jobs=0"):
        rp.reproduce(["fig3"], out_dir=tmp_path, jobs=0)
