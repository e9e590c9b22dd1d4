"""summary.py: the correction metrics as pure functions of a History and a method's report (hand-computed)."""

import copy

import pytest

from wirelora.evaluation.summary import (
    cumulative_costs,
    event_gaps,
    post_event_gap,
    run_summary,
    summarize,
    table,
)
from wirelora.learning.history import History


def _history() -> History:
    """Five rounds; d0 leaves at round 2, a two-round correction window [2, 3]; round 4 after it."""
    rounds = []
    for r in range(5):
        rec = {"round": r, "members": ["d0", "d1"] if r < 2 else ["d1"], "retain_loss": 3.0 - 0.5 * r}
        rec["bits_sent"] = 1000 * (r + 1)
        if r >= 2:
            rec.update(
                oracle_retain_loss=1.0,
                forget_acc=0.5 - 0.1 * r,
                oracle_forget_acc=0.1,
                forget_loss=2.0,
                oracle_forget_loss=2.5,
            )
        if r in (2, 3):
            rec.update(forget_gap=0.25 * r, local_steps=2.0, latency_s=0.1 * r, energy_j=0.01)
        rounds.append(rec)
    rounds[2]["post_event"] = {"retain_loss": 2.5, "contribution_residual": 1e-9}
    return History(config={"name": "t"}, rounds=rounds, meta={"events": [{"round": 2}]})


def _report(**changes) -> dict:
    report = {
        "method": "proposed",
        "arm": "full",
        "rule": "fisher",
        "lambda_j": 1.0,
        "lambda_f": 0.5,
        "costs": {"stored_bytes_per_device": 8.0, "extra_local_steps": 1.0, "extra_bits": 500.0},
        "window": [2, 3],
        "uniform": {2: {"bits": 2000.0, "local_steps": 4.0}, 3: {"bits": 2000.0, "local_steps": 4.0}},
        "membership": {"mia_auc_model": 0.6, "mia_auc_oracle": 0.5},
        "plan": {"local_steps": [1, 2]},
    }
    return {**report, **changes}


def test_event_gaps_per_round():
    assert event_gaps({"retain_loss": 2.0}, lambda_j=1.0, lambda_f=1.0) == {}  # no oracle: no gap
    rec = {"retain_loss": 2.0, "oracle_retain_loss": 1.5, "join_loss": 3.0, "oracle_join_loss": 1.0}
    assert event_gaps(rec, lambda_j=0.5, lambda_f=1.0) == {"event_gap": pytest.approx(0.5 + 0.5 * 2.0)}
    out = event_gaps({**rec, "forget_gap": 0.4}, lambda_j=0.5, lambda_f=2.0)
    assert out["event_gap_total"] == pytest.approx(1.5 + 2.0 * 0.4)
    assert (
        post_event_gap({"oracle_retain_loss": 1.0, "post_event": {"retain_loss": 1.75}}, lambda_j=1.0) == 0.75
    )
    assert post_event_gap({"oracle_retain_loss": 1.0}, lambda_j=1.0) is None


def test_cumulative_costs_start_from_the_one_off_extras():
    window = [{"round": 2, "bits_sent": 3000, "local_steps": 2.0}, {"round": 3, "bits_sent": 4000}]
    uniform = {2: {"bits": 2000.0, "local_steps": 4.0}, 3: {"bits": 2000.0, "local_steps": 4.0}}
    rows = cumulative_costs(window, uniform, extra_bits=500.0, extra_local_steps=1.0)
    assert rows[0]["norm_comm"] == pytest.approx(3500 / 2000) and rows[0]["norm_compute"] == pytest.approx(
        3 / 4
    )
    assert rows[1]["bits"] == 7500.0 and rows[1]["local_steps"] == 3.0  # a round without local_steps adds 0
    assert rows[1]["norm_comm"] == pytest.approx(7500 / 4000)
    assert rows[1]["norm_total"] == pytest.approx(0.5 * (7500 / 4000 + 3 / 8))
    zero = {r: {"bits": 0.0, "local_steps": 0.0} for r in (2, 3)}
    free = cumulative_costs(window, zero, extra_bits=0.0, extra_local_steps=0.0)
    assert "norm_comm" not in free[-1]  # nothing to normalise by


def test_summarize_is_pure_and_derives_everything():
    h = _history()
    before = copy.deepcopy(h.to_json())
    s = summarize(h, _report())
    assert h.to_json() == before  # the input History is untouched
    by = {r["round"]: r for r in s.rounds}
    assert "event_gap" not in by[1]  # no oracle before the event
    assert by[2]["event_gap"] == pytest.approx(2.0 - 1.0)
    assert by[3]["event_gap_total"] == pytest.approx(0.5 + 0.5 * 0.75)
    assert by[4]["event_gap"] == pytest.approx(0.0) and "norm_comm" not in by[4]  # outside the window
    assert by[2]["post_event"]["event_gap"] == pytest.approx(1.5)
    assert by[3]["norm_comm"] == pytest.approx((500 + 3000 + 4000) / 4000)
    c = s.meta["correction"]
    assert s.meta["events"] == h.meta["events"]
    assert c["event_gap_curve"] == pytest.approx([1.5, 1.0, 0.5])
    assert c["final_event_gap"] == pytest.approx(0.5) and c["stability"]["best_round"] == 2
    assert c["bits"] == 7500.0 and c["local_steps"] == 5.0
    assert c["latency_s"] == pytest.approx(0.5) and c["energy_j"] == pytest.approx(0.02)
    assert c["final_forget_gap"] == 0.75 and c["post_event_contribution_residual"] == 1e-9
    assert c["forget_quality"] == pytest.approx({"loss_gap": -0.5, "accuracy_gap": 0.1, "mia_gap": 0.1})
    assert c["plan"] == {"local_steps": [1, 2]} and c["stored_bytes_per_device"] == 8.0
    assert summarize(s, _report()).to_json() == s.to_json()  # summarising again changes nothing


def test_summary_without_an_event_has_only_the_method_and_costs():
    s = run_summary(_history().rounds, _report(window=None))
    assert s == {"method": "proposed", "arm": "full", "rule": "fisher", **_report()["costs"]}


def test_table_ri_against_the_uniform_arm():
    h = _history()
    hists = {"proposed": summarize(h, _report()), "arm:uniform": summarize(h, _report(arm="uniform"))}
    rows = {r["name"]: r for r in table(hists)}
    assert rows["arm:uniform"]["ri"] == pytest.approx(0.0)
    assert rows["proposed"]["final_gap"] == pytest.approx(0.5)
