"""`wirelora reproduce`: each recipe runs (quick, or smaller), saves finite data of the right shape and
redraws from that data alone; the CLI turns bad input into one line."""

import csv
import json

import numpy as np
import pytest

from wirelora.cli import main
from wirelora.experiments import paper


def _finite(values):
    arr = np.asarray(values, dtype=float)
    return arr.size > 0 and bool(np.all(np.isfinite(arr)))


def _run(target, tmp_path, **settings):
    written = paper.reproduce(
        [target],
        out_dir=tmp_path,
        quick=True,
        progress=False,
        settings={target: settings} if settings else None,
    )
    names = sorted(p.name for p in written[target])
    record = paper.load_data(target, tmp_path)
    assert record["target"] == target and record["quick"] is True
    return names, record["data"]


# ------------------------------------------------------------------------------------------------ framework
def test_every_target_has_quick_settings_no_larger_than_full():
    for name in paper.TARGETS:
        quick, full = paper.settings_for(name, quick=True), paper.settings_for(name, quick=False)
        assert set(quick) == set(full), name


def test_unknown_target_and_unknown_setting_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="target='fig99'"):
        paper.reproduce(["fig99"], out_dir=tmp_path)
    with pytest.raises(ValueError, match=r"settings\.leakage\.bogus"):
        paper.reproduce(["leakage"], out_dir=tmp_path, settings={"leakage": {"bogus": 1}})


def test_from_data_without_data_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="wirelora reproduce leakage"):
        paper.reproduce(["leakage"], out_dir=tmp_path, from_data=True, progress=False)


def test_long_rows_flatten_nested_series():
    rows = list(paper._long_rows({"gap": {"proposed": [1.0, 2.0]}, "width": 4}))
    assert rows == [("gap", "proposed", "0", 1.0), ("gap", "proposed", "1", 2.0), ("width", "", "", 4)]


def test_nan_is_saved_as_null_and_read_back_as_nan():
    data = paper._jsonable({"x": np.array([1.0, np.nan]), "y": np.float32(2.5)})
    assert data == {"x": [1.0, None], "y": 2.5}
    assert np.isnan(np.asarray(json.loads(json.dumps(data))["x"], dtype=float)[1])


def test_markdown_table():
    md = paper._markdown(["arm", "gap"], [["full", 0.391234], ["uniform", None]])
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
    written = paper.reproduce(["regimes"], out_dir=tmp_path, from_data=True, progress=False)
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
    _, data = _run(
        "join", tmp_path, model="tiny-mlp", task="clusters", rounds=12, join_rounds=[6], eval_every=3
    )
    rounds = np.asarray(data["rounds"])
    assert data["events"] == [[6, "join d6"]]
    for arm in ("orthogonal", "shared"):
        join_loss = np.asarray(data["join_loss"][arm], dtype=float)
        retain = np.asarray(data["retain_loss"][arm], dtype=float)
        assert join_loss.shape == retain.shape == rounds.shape and _finite(retain)
        assert np.all(np.isnan(join_loss[rounds < 6])) and _finite(join_loss[rounds >= 6])
