"""End to end: a corrected run through the one loop, the History's new per-round keys, resume (also of a run
killed before its summary was written), the sweep and Table III rows."""

import json

import numpy as np
import pytest
from tiny_runs import corrected_run_raw

from wirelora.config import from_dict

pytest.importorskip("peft")

RAW = corrected_run_raw(
    **{
        "name": "sweep-test",
        "trainer.rounds": 9,
        "trainer.step_size": 0.05,
        "events": [{"round": 5, "leave": ["d0"]}],
        "correction": {"rounds": 4, "federaser_interval": 2},
    }
)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from wirelora.experiments.sweep import sweep
    from wirelora.learning.config import RunConfig

    out = tmp_path_factory.mktemp("sweep")
    hists = sweep(
        from_dict(RunConfig, RAW),
        out_dir=out,
        methods=("proposed", "naive", "no_correction"),
        arms=("uniform",),
    )
    return out, hists


def test_history_gains_the_correction_keys(results):
    _, hists = results
    h = hists["proposed"]
    window = [r for r in h.rounds if 5 <= r["round"] <= 8]
    assert len(window) == 4
    for r in window:
        for key in (
            "event_gap",
            "forget_gap",
            "latency_s",
            "energy_j",
            "edge_cost",
            "contribution_residual",
            "norm_comm",
            "norm_total",
        ):
            assert r[key] is not None and np.isfinite(r[key]), key
        assert r["event_gap"] == pytest.approx(r["retain_loss"] - r["oracle_retain_loss"])
    assert "post_event" in window[0] and window[0]["post_event"]["event_gap"] is not None
    s = h.meta["correction"]
    assert len(s["event_gap_curve"]) == 5  # k = 0 (right after the projection) .. K
    assert s["final_contribution_residual"] < 1e-6
    assert set(s["forget_quality"]) == {"loss_gap", "accuracy_gap", "mia_gap"}


def test_methods_differ_where_they_should(results):
    _, hists = results
    naive = hists["naive"].meta["correction"]
    none = hists["no_correction"]
    assert naive["final_contribution_residual"] > 0.01  # the leaver's block stays without the projection
    gaps = [r["event_gap"] for r in none.rounds if 5 <= r["round"] <= 8]
    assert np.allclose(gaps, none.meta["correction"]["event_gap_curve"][0])  # frozen after the projection
    assert none.meta["correction"]["norm_comm"] == 0.0


def test_uniform_arm_is_its_own_reference_and_table(results):
    from wirelora.evaluation.summary import table

    _, hists = results
    u = hists["arm:uniform"].meta["correction"]
    assert u["norm_comm"] == pytest.approx(1.0) and u["norm_total"] == pytest.approx(1.0)
    rows = {r["name"]: r for r in table(hists)}
    assert rows["arm:uniform"]["ri"] == pytest.approx(0.0)
    assert set(rows) == {"proposed", "naive", "no_correction", "arm:uniform"}


def test_finished_run_resumes_to_its_summary(results, tmp_path):
    from wirelora.learning.config import RunConfig
    from wirelora.learning.loop import run

    out, hists = results
    cfg = from_dict(
        RunConfig,
        {
            **RAW,
            "correction": {**RAW["correction"], "method": "naive"},
            "oracle": {**RAW["oracle"], "cache_dir": str(out / "oracle")},
        },
    )
    again = run(cfg, out_dir=out / "naive", resume=True)  # finished: summarised again, not rerun
    assert again.meta["correction"] == hists["naive"].meta["correction"]
    assert again.without_timing()["rounds"] == hists["naive"].without_timing()["rounds"]


@pytest.mark.parametrize("method", ["federaser_d2d"])
def test_leave_then_join_in_one_loop(method, tmp_path):
    from wirelora.learning.config import RunConfig
    from wirelora.learning.loop import run

    raw = {
        **RAW,
        "task": {**RAW["task"], "num_devices": 5},
        "trainer": {**RAW["trainer"], "rounds": 10},
        "events": [{"round": 4, "leave": ["d0"]}, {"round": 7, "join": ["d4"]}],
        "correction": {**RAW["correction"], "rounds": 2, "method": method},
    }
    h = run(from_dict(RunConfig, raw), out_dir=tmp_path)
    by_round = {r["round"]: r for r in h.rounds}
    assert "post_event" in by_round[4] and "post_event" in by_round[7]
    assert by_round[7]["members"] == ["d1", "d2", "d3", "d4"]
    assert by_round[5]["contribution_residual"] < 1e-6  # d0's block stays removed after both events


def test_shipped_correction_config_parses():
    from wirelora.experiments.runner import load_run_config

    cfg = load_run_config("leave-only-correction", ["correction.method=naive"])
    cc, pc, wc = cfg.correction, cfg.policy, cfg.wireless
    assert cc.method == "naive" and cc.rounds == 60 and pc.rule == "residual" and wc.graph == "random"
    assert [e.round for e in cfg.events] == [cfg.trainer.rounds - cc.rounds]
    from wirelora.config import ConfigError

    with pytest.raises(ConfigError, match="unknown key wireless.bogus"):
        load_run_config("leave-only-correction", ["wireless.bogus=1"])


@pytest.mark.parametrize("method", ["proposed", "federaser_d2d", "ewc"])
def test_interrupted_corrected_run_resumes_to_the_same_history(method, tmp_path):
    from wirelora.learning.config import RunConfig
    from wirelora.learning.loop import run

    raw = {**RAW, "correction": {**RAW["correction"], "method": method}}
    cfg = from_dict(RunConfig, raw)
    whole = run(cfg, out_dir=tmp_path / "whole")
    for stop in (4, 6):  # stopped right before the event, then in the correction window
        run(cfg, out_dir=tmp_path / "cut", resume=True, stop_after=stop)
    resumed = run(cfg, out_dir=tmp_path / "cut", resume=True)
    a, b = whole.without_timing(), resumed.without_timing()
    assert a["rounds"] == b["rounds"]
    assert a["meta"]["correction"] == b["meta"]["correction"]


def test_wl_run_runs_the_configs_correction():
    import wirelora as wl
    from wirelora.learning.config import RunConfig

    raw = {**RAW, "correction": {**RAW["correction"], "method": "no_correction"}}
    h = wl.run(from_dict(RunConfig, raw))
    assert h.meta["correction"]["method"] == "no_correction"
    assert all(r.get("event_gap") is not None for r in h.rounds if r["round"] >= 5)
    no_section = {k: v for k, v in RAW.items() if k != "correction"}
    plain = wl.run(from_dict(RunConfig, no_section))  # no correction section: plain DGD
    assert "correction" not in plain.meta and "event_gap" not in plain.rounds[-1]


_KILL_BEFORE_SUMMARY = """
import os, signal, sys
from wirelora.config import from_dict, load_mapping
from wirelora.correction.methods import MethodContext
from wirelora.correction.methods.proposed import Proposed
from wirelora.experiments.runner import start_run
from wirelora.learning.config import RunConfig

class KillBeforeSummary(Proposed):  # SIGKILL after the last round's checkpoint, before the summary is saved
    def finish(self, state):
        super().finish(state)
        self.finished = True

    def report(self):
        if getattr(self, "finished", False):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().report()

cfg = from_dict(RunConfig, load_mapping(sys.argv[1]))
start_run(cfg, sys.argv[2], correction=KillBeforeSummary(MethodContext.from_config(cfg)))
"""


def test_run_killed_before_its_summary_resumes_with_it(tmp_path):
    """The lost-result bug: a run killed after its last round was checkpointed but before its summary was
    written must resume (twice, too) to the uninterrupted run's History, summary and event gaps included."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from wirelora.experiments.runner import resume_run, start_run
    from wirelora.learning.config import RunConfig
    from wirelora.learning.history import History

    raw = {**RAW, "correction": {**RAW["correction"], "method": "proposed"}}
    cfg = from_dict(RunConfig, raw)
    whole = start_run(cfg, tmp_path / "whole")
    (tmp_path / "config.json").write_text(json.dumps(raw))
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    killed = tmp_path / "killed"
    proc = subprocess.run(
        [sys.executable, "-c", _KILL_BEFORE_SUMMARY, str(tmp_path / "config.json"), str(killed)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert (killed / "checkpoint.safetensors").is_file() and not (killed / "history.json").is_file()
    for _ in range(2):
        resumed = resume_run(killed)
        on_disk = History.load(killed)
        for h in (resumed, on_disk):
            assert h.without_timing()["rounds"] == whole.without_timing()["rounds"]
            assert h.meta["correction"] == json.loads(json.dumps(whole.meta["correction"]))


def test_sweep_shares_the_pre_event_phase_bit_for_bit(results):
    """Every method continues one pre-event run (FedEraser's recorder included), and each History equals the
    method's own run from round 0, key for key (config included)."""
    from wirelora.learning.config import RunConfig
    from wirelora.learning.loop import run

    out, hists = results
    pre = out / "pre-event"
    assert (pre / "done").read_text().strip() == "4" and len(
        json.loads((pre / "history.json").read_text())["rounds"]
    ) == 5
    for method in ("proposed", "naive"):
        alone = run(from_dict(RunConfig, {**RAW, "correction": {**RAW["correction"], "method": method}}))
        a, b = alone.without_timing(), hists[method].without_timing()
        assert a["rounds"] == b["rounds"] and a["meta"] == b["meta"], method
        cfg = {**a["config"], "oracle": {**a["config"]["oracle"], "cache_dir": None}}
        assert {**b["config"], "oracle": {**b["config"]["oracle"], "cache_dir": None}} == cfg


def test_federaser_from_the_shared_pre_event_phase_equals_its_own_run(tmp_path):
    from wirelora.experiments.sweep import sweep
    from wirelora.learning.config import RunConfig
    from wirelora.learning.loop import run

    raw = {**RAW, "correction": {**RAW["correction"], "method": "federaser_d2d"}}
    shared = sweep(from_dict(RunConfig, RAW), out_dir=tmp_path, methods=("federaser_d2d",), arms=())
    alone = run(from_dict(RunConfig, raw)).without_timing()
    got = shared["federaser_d2d"].without_timing()
    assert got["rounds"] == alone["rounds"] and got["meta"] == alone["meta"]
    assert got["meta"]["correction"]["stored_bytes_per_device"] > 0  # the recorder's snapshots came along


def test_fork_refuses_a_post_event_checkpoint_or_another_run(tmp_path):
    from wirelora.config import to_jsonable
    from wirelora.errors import CheckpointError
    from wirelora.learning.checkpoint import CHECKPOINT_FILE, fork_checkpoint
    from wirelora.learning.config import RunConfig
    from wirelora.learning.loop import run

    cfg = from_dict(RunConfig, {**RAW, "correction": {**RAW["correction"], "method": "proposed"}})
    run(cfg, out_dir=tmp_path / "a", stop_after=5)  # past the event at round 5
    with pytest.raises(CheckpointError, match="not before the first event"):
        fork_checkpoint(tmp_path / "a" / CHECKPOINT_FILE, tmp_path / "x", to_jsonable(cfg), first_event=5)
    run(cfg, out_dir=tmp_path / "b", stop_after=3)
    other = to_jsonable(cfg)
    other["trainer"] = {**other["trainer"], "step_size": 0.07}
    with pytest.raises(CheckpointError, match="differs from this run's in 'trainer'"):
        fork_checkpoint(tmp_path / "b" / CHECKPOINT_FILE, tmp_path / "x", other, first_event=5)
    other = to_jsonable(cfg)
    other["correction"] = {**other["correction"], "method": "naive"}
    other["policy"] = {**other["policy"], "arm": "uniform"}
    fork_checkpoint(tmp_path / "b" / CHECKPOINT_FILE, tmp_path / "x", other, first_event=5)  # allowed
