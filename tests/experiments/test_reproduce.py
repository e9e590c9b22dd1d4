"""`wirelora reproduce`: each recipe runs (quick, or smaller), saves finite data of the right shape and
redraws from that data alone; the CLI turns bad input into one line."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from wirelora.cli import REPRODUCE_TARGETS, main
from wirelora.config import ConfigError, to_jsonable
from wirelora.evaluation.names import PAPER_ARMS, PAPER_METHODS
from wirelora.experiments import reproduce as rp
from wirelora.experiments.reproduce import framework
from wirelora.experiments.reproduce.correction import PAPER_TABLE3
from wirelora.experiments.reproduce.outputs import long_rows, markdown


def _finite(values):
    arr = np.asarray(values, dtype=float)
    return arr.size > 0 and bool(np.all(np.isfinite(arr)))


def _run(target, tmp_path, **settings):
    written = rp.reproduce(
        [target],
        out_dir=tmp_path,
        quick=True,
        progress=False,
        settings={target: settings} if settings else None,
    )
    names = sorted(p.name for p in written[target])
    record = rp.load_data(target, tmp_path)
    assert record["target"] == target and record["quick"] is True
    return names, record["data"]


# ------------------------------------------------------------------------------------------------ framework
def test_registry_matches_the_cli_targets():
    assert list(rp.TARGETS) == [t for t in REPRODUCE_TARGETS if t != "all"]


def test_every_target_has_quick_settings_no_larger_than_full():
    for name in rp.TARGETS:
        quick, full = rp.settings_for(name, quick=True), rp.settings_for(name, quick=False)
        assert set(quick) == set(full), name


def test_unknown_target_and_unknown_setting_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="target='fig99'"):
        rp.reproduce(["fig99"], out_dir=tmp_path)
    with pytest.raises(ValueError, match=r"settings\.leakage\.bogus"):
        rp.reproduce(["leakage"], out_dir=tmp_path, settings={"leakage": {"bogus": 1}})


def test_settings_live_in_yaml_and_quick_may_only_change_full_keys(tmp_path, monkeypatch):
    assert sorted(p.name for p in framework.SETTINGS_DIR.glob("*.yaml")) == sorted(
        {f"{r.settings}.yaml" for r in rp.TARGETS.values()}
    )
    assert rp.settings_for("leakage", quick=True)["num_devices"] == rp.settings_for("leakage")["num_devices"]
    (tmp_path / "adapter.yaml").write_text("leakage:\n  full: {width: 8}\n  quick: {depth: 2}\n")
    monkeypatch.setattr(framework, "SETTINGS_DIR", tmp_path)
    with pytest.raises(ConfigError, match=r"leakage\.quick\.depth: not a full setting"):
        rp.settings_for("leakage", quick=True)
    (tmp_path / "adapter.yaml").write_text("leakage:\n  full: {width: 8}\n  fast: {}\n")
    with pytest.raises(ConfigError, match=r"leakage\.fast: unknown key"):
        rp.settings_for("leakage")


def test_from_data_without_data_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="wirelora reproduce leakage"):
        rp.reproduce(["leakage"], out_dir=tmp_path, from_data=True, progress=False)


def test_long_rows_flatten_nested_series():
    rows = list(long_rows({"gap": {"proposed": [1.0, 2.0]}, "width": 4}))
    assert rows == [("gap", "proposed", "0", 1.0), ("gap", "proposed", "1", 2.0), ("width", "", "", 4)]


def test_nan_is_saved_as_null_and_read_back_as_nan():
    data = to_jsonable({"x": np.array([1.0, np.nan]), "y": np.float32(2.5)})
    assert data == {"x": [1.0, None], "y": 2.5}
    assert np.isnan(np.asarray(json.loads(json.dumps(data))["x"], dtype=float)[1])


def test_markdown_table():
    md = markdown(["arm", "gap"], [["full", 0.391234], ["uniform", None]])
    assert md.splitlines() == ["| arm | gap |", "|---|---|", "| full | 0.391 |", "| uniform | — |"]


# ------------------------------------------------------------------------------------------------ recipes
def test_leakage_matches_lemma1_and_slotted_is_exact(tmp_path):
    names, data = _run("leakage", tmp_path, ranks=[2, 8], trials=3)
    assert names == ["leakage.csv", "leakage.json", "leakage.pdf", "leakage.png"]
    assert data["rank"] == [2, 8]
    ind, slot = np.asarray(data["overlap"]["independent"]), np.asarray(data["overlap"]["slotted"])
    # Lemma 1: E‖A_iᵀA_j‖² = r²/d; 15 pairs x 3 trials keep the sampling error well inside 30 %
    np.testing.assert_allclose(ind, data["theory_overlap"], rtol=0.3)
    assert np.all(slot < 1e-12)  # exactly orthogonal up to float rounding
    res_ind, res_slot = np.asarray(data["residual"]["independent"]), np.asarray(data["residual"]["slotted"])
    assert np.all(res_slot < 1e-6) and np.all(res_ind > 1e-3)
    assert res_ind[1] > res_ind[0]  # more overlap, more leakage
    with (tmp_path / "leakage.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {"quantity", "series", "index", "value"} == set(rows[0])
    assert any(r["quantity"] == "overlap" and r["series"] == "independent" for r in rows)


def test_redraw_from_data_does_not_rerun(tmp_path):
    _run("regimes", tmp_path)
    before = (tmp_path / "regimes.json").read_text()
    (tmp_path / "regimes.png").unlink()
    written = rp.reproduce(["regimes"], out_dir=tmp_path, from_data=True, progress=False)
    assert sorted(p.name for p in written["regimes"]) == ["regimes.pdf", "regimes.png"]
    assert (tmp_path / "regimes.png").stat().st_size > 0
    assert (tmp_path / "regimes.json").read_text() == before


def test_cli_reproduce_and_its_errors(tmp_path, capsys):
    assert main(["reproduce", "regimes", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    assert "regimes.png" in capsys.readouterr().out
    assert main(["reproduce", "regimes", "--from-data", "--out", str(tmp_path), "--no-progress"]) == 0
    assert main(["reproduce", "fig99", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fig99" in err
    assert main(["reproduce", "alloc", "--from-data", "--out", str(tmp_path / "empty")]) == 2


def test_regimes_grid_shape_and_names(tmp_path):
    _, data = _run("regimes", tmp_path, spectral_gaps=[0.02, 0.5], heterogeneity=[0.0, 10.0])
    action, dominant = np.asarray(data["action"]), np.asarray(data["dominant"])
    assert action.shape == dominant.shape == (2, 2)  # [heterogeneity, spectral_gap]
    assert set(dominant.ravel()) <= {"loc", "con", "het"}
    assert set(action.ravel()) <= {"local", "prox", "topology", "sync", "none"}
    res = np.asarray(data["residuals"])
    assert res.shape == (2, 2, 3) and _finite(res)
    np.testing.assert_array_equal(dominant, np.array(["loc", "con", "het"])[res.argmax(axis=-1)])


def test_join_records_both_arms_around_the_event(tmp_path):
    tiny = [  # fmt: skip
        "trainer.rounds=8",
        "task.num_devices=7",
        "oracle.enabled=false",
        "events=[{round: 4, join: [d6]}]",
        "task.train_per_device=8",
        "task.eval_per_device=4",
    ]
    _, data = _run("join", tmp_path, overrides=tiny)
    rounds = np.asarray(data["rounds"])
    assert data["events"] == [[4, "join d6"]]
    assert set(data["join_loss"]) == {"orthogonal", "shared"}
    for arm in ("orthogonal", "shared"):
        join_loss = np.asarray(data["join_loss"][arm], dtype=float)
        retain = np.asarray(data["retain_loss"][arm], dtype=float)
        assert join_loss.shape == retain.shape == rounds.shape and _finite(retain)
        assert np.all(np.isnan(join_loss[rounds < 4])) and _finite(join_loss[rounds >= 4])


def test_alloc_convex_meets_the_closed_form_and_beats_the_simple_splits(tmp_path):
    names, data = _run("alloc", tmp_path, num_bandwidths=4, num_priorities=3)
    assert names == ["alloc.csv", "alloc.json", "alloc.pdf", "alloc.png"]
    lat = {k: np.asarray(v) for k, v in data["latency_s"].items()}
    assert all(v.shape == (4,) and _finite(v) for v in lat.values())
    np.testing.assert_allclose(lat["convex"], lat["optimum"], rtol=1e-5)
    assert np.all(lat["convex"] <= lat["equal"]) and np.all(lat["convex"] <= lat["proportional"])
    assert np.all(np.diff(lat["convex"]) < 0)  # more bandwidth, faster rounds
    shares = np.asarray([data["bandwidth_share"][g] for g in ("early", "mid", "late")])  # [G, P]
    np.testing.assert_allclose(shares.sum(axis=0), 1.0, rtol=1e-6)
    assert np.all(np.diff(shares[2]) > 0)  # the late group's share grows with its priority


def test_pareto_front_is_monotone_and_dominates_the_splits(tmp_path):
    _, data = _run("pareto", tmp_path, num_caps=4)
    lat, energy, caps = (np.asarray(data[k]) for k in ("latency_s", "energy_j", "latency_cap_s"))
    assert lat.shape == energy.shape == caps.shape == (4,) and _finite(energy)
    assert np.all(lat <= caps * (1 + 1e-6))
    assert np.all(np.diff(energy) <= 1e-9 * energy[0])  # a looser cap never costs energy
    for name in ("equal", "proportional"):
        t, e = data["points"][name]
        ok = lat <= t * (1 + 1e-9)
        assert ok.any() and energy[ok].min() <= e, name
    t_mm, e_mm = data["points"]["minmax"]
    assert t_mm <= lat.min() and energy[0] <= e_mm * (1 + 1e-6)


TINY_LEAVE = {
    "config": "leave-only",
    "overrides": ["trainer.rounds=5", "events=[{round: 3, leave: [d0]}]", "correction.rounds=2",
                  "oracle.rounds=2", "task.train_per_device=8", "task.eval_per_device=4"],
}  # fmt: skip
LEAVE_TARGETS = ["fig3", "fig5", "fig6", "fig7", "fig8", "table3"]


def test_leave_only_targets_share_one_sweep_and_redraw(tmp_path):
    rp.reproduce(
        LEAVE_TARGETS,
        out_dir=tmp_path,
        quick=True,
        progress=False,
        settings=dict.fromkeys(LEAVE_TARGETS, TINY_LEAVE),
    )
    assert len(list((tmp_path / "runs").iterdir())) == 1  # one sweep served the six targets
    data = {t: rp.load_data(t, tmp_path)["data"] for t in LEAVE_TARGETS}
    assert all(rp.load_data(t, tmp_path)["settings"]["seeds"] == 1 for t in LEAVE_TARGETS)
    k = 2 + 1  # K correction rounds + the post-projection point
    for name, curve in data["fig3"]["event_gap"].items():
        assert curve["n"] == 1 and curve["per_seed"] == [curve["mean"]], name
        assert len(curve["mean"]) == k and _finite(curve["mean"]) and curve["lo"] is None, name
    assert set(data["fig3"]["event_gap"]) == {*PAPER_METHODS, "no_correction"}
    # without correction nothing moves the model after the projection: its gap stays where it started
    nc = np.asarray(data["fig3"]["event_gap"]["no_correction"]["mean"])
    np.testing.assert_allclose(nc, nc[0], rtol=1e-6)
    assert set(data["fig6"]["event_gap"]) == {*PAPER_ARMS, "no_correction"}
    assert all(len(v["mean"]) == k and _finite(v["mean"]) for v in data["fig6"]["event_gap"].values())
    points = data["fig7"]["points"]
    assert set(points) == set(PAPER_ARMS) and data["fig7"]["front"]
    np.testing.assert_allclose(points["uniform"][0], 1.0)  # costs are normalised by the uniform arm
    assert all(len(v["mean"]) == k and v["mean"][0] == 0 for v in data["fig8"]["ri"].values())  # same start
    rows = data["table3"]["rows"]
    assert rows["uniform"]["ri"]["mean"] == 0 and rows["uniform"]["norm_comm"]["mean"] == 1
    assert abs(rows["full"]["contribution_residual"]["mean"]) < 1e-5
    md = (tmp_path / "table3.md").read_text().splitlines()
    assert md[0].startswith("| arm | final gap |") and len(md) == 2 + len(PAPER_TABLE3)
    for t in LEAVE_TARGETS[:-1]:  # table3 is Markdown + CSV, no figure
        (tmp_path / f"{t}.pdf").unlink()
    rp.reproduce(LEAVE_TARGETS, out_dir=tmp_path, from_data=True, progress=False)
    assert all((tmp_path / f"{t}.pdf").is_file() for t in LEAVE_TARGETS if t != "table3")


def test_fig4_long_run_with_joins_and_leaves(tmp_path):
    tiny = {
        "config": "long-run",
        "overrides": ["trainer.rounds=8", "correction.rounds=1", "oracle.rounds=2", "trainer.eval_every=1",
                      "task.train_per_device=8", "task.eval_per_device=4",
                      "events=[{round: 3, leave: [d0]}, {round: 5, join: [d6]}]"],
        "methods": ["proposed", "naive"],
    }  # fmt: skip
    _, data = _run("fig4", tmp_path, **tiny)
    assert data["events"] == [[3, "leave d0"], [5, "join d6"]]
    steps = np.asarray(data["steps"])
    np.testing.assert_array_equal(steps, np.arange(8))
    assert set(data["ri"]) == {"proposed", "naive"} and not data["failed"]
    for name, ri in data["ri"].items():
        ri = np.asarray(ri["mean"])
        assert ri.shape == steps.shape and _finite(ri), name
        np.testing.assert_allclose(ri[steps < 3], 0.0, atol=1e-9)  # identical runs until the first event
    with pytest.raises(ValueError, match="settings.fig4.methods"):
        rp.reproduce(["fig4"], out_dir=tmp_path, settings={"fig4": {**tiny, "methods": ["bogus"]}})


def test_every_committed_figure_redraws_from_its_data(tmp_path):
    figures = Path(__file__).resolve().parents[2] / "figures"
    for target in rp.TARGETS:
        shutil.copy(figures / f"{target}.json", tmp_path)
        assert rp.load_data(target, tmp_path)["quick"] is False  # committed figures are full-setting
    written = rp.reproduce(["all"], out_dir=tmp_path, from_data=True, progress=False)
    assert set(written) == set(rp.TARGETS)
    for target, paths in written.items():
        assert all(p.stat().st_size > 0 for p in paths), target
