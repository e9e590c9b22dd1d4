"""Each correction method changes what it should and nothing else (on the trainer's real state, tiny MLP)."""

import numpy as np
import pytest
import torch
from tiny_runs import corrected_run_raw

from wirelora.config import from_dict
from wirelora.correction import config as P
from wirelora.correction import joint as J
from wirelora.correction.methods import METHODS, MethodContext, build
from wirelora.wireless.config import WirelessConfig

pytest.importorskip("peft")

RAW = corrected_run_raw(
    **{
        "trainer.rounds": 10,
        "trainer.step_size": 0.3,
        "events": [{"round": 4, "leave": ["d0"]}],
        "correction": {"rounds": 3},
    }
)


def _config(wireless=None, **correction):
    from wirelora.learning.config import RunConfig

    raw = {**RAW, "correction": {**RAW["correction"], **correction}, "wireless": wireless or {}}
    return from_dict(RunConfig, raw)


@pytest.fixture(scope="module")
def trained():
    """A state's blocks after 4 rounds of plain DGD (the pre-event phase), and its slots."""
    from wirelora.distributed.backend import InProcessBackend
    from wirelora.learning.state import TrainerState

    torch.manual_seed(0)
    state = TrainerState(_config(), seed=0)
    backend = InProcessBackend()
    for r in range(4):
        sched = state.default_schedule(r)
        state.local_steps(sched, r)
        state.exchange(sched, r, backend)
    blocks = {n: b.clone() for n, b in state.blocks.items()}
    slots = {d: state.adapter.slot_of(d) for d in state.members}
    return blocks, slots


def _context(kind, wireless=None, **correction):
    cc = P.CorrectionConfig(method=kind, rounds=3, **correction)
    return MethodContext(
        correction=cc,
        policy=P.PolicyConfig(),
        wireless=from_dict(WirelessConfig, wireless or {}, prefix="wireless"),
        seed=0,
        positions_m=np.random.default_rng(0).uniform(-100, 100, (4, 2)),
    )


def _event_state(kind, trained, **correction):
    """A fresh state holding the trained blocks; the method's before_event, the leave of d0, the oracle and
    the method's on_event, as the round loop runs them. Returns (state, method, blocks right before
    on_event)."""
    from wirelora.learning.events import Event
    from wirelora.learning.oracle import train_oracle
    from wirelora.learning.state import TrainerState

    blocks, _ = trained
    cfg = _config(method=kind, **correction)
    state = TrainerState(cfg, seed=0)
    state.blocks = {n: b.clone() for n, b in blocks.items()}
    state._sync_adapter()
    method = build(kind, _context(kind, **correction))
    event = Event(round=4, leave=("d0",))
    state.round = 4
    method.before_event(state, event)
    state.apply_event(event, project=method.project_on_leave)
    ob = train_oracle(state, None)
    state.oracle = {"blocks": ob, "eval": state.evaluate(ob)}
    before = {n: b.clone() for n, b in state.blocks.items()}
    method.on_event(state, event)
    return state, method, before


def _cols(slots, state, device):
    return {
        n: slice(slots[device] * state.adapter.rank(n), (slots[device] + 1) * state.adapter.rank(n))
        for n in state.layer_names
    }


def test_registry_names_every_configurable_method():
    from wirelora.config import ConfigError

    assert tuple(METHODS) == P.METHODS
    assert all(cls.name == name for name, cls in METHODS.items())
    with pytest.raises(ConfigError, match="correction.method='bogus'"):
        build("bogus", _context("proposed"))


def test_naive_keeps_the_leaver_and_proposed_removes_it(trained):
    _, slots = trained
    s_naive, m_naive, _ = _event_state("naive", trained)
    s_prop, m_prop, before = _event_state("proposed", trained)
    assert not m_naive.project_on_leave and m_prop.project_on_leave
    post_naive = m_naive.after_round(s_naive, 4)["post_event"]
    post_prop = m_prop.after_round(s_prop, 4)["post_event"]
    assert post_naive["contribution_residual"] > 0.05
    # float32 bases are orthonormal to round-off: the residual is round-off, the leaver's block exactly zero
    assert post_prop["contribution_residual"] < 1e-6
    assert "post_event" not in m_prop.after_round(s_prop, 5)  # recorded once, with the event's round
    cols = _cols(slots, s_prop, "d0")
    assert all(torch.count_nonzero(b[:, :, cols[n]]) == 0 for n, b in s_prop.blocks.items())
    for n, b in s_prop.blocks.items():  # proposed's on_event changes nothing (it only plans)
        assert torch.equal(b, before[n])
    assert m_prop.plan.local_steps.shape == (len(s_prop.group_names),)


def test_retrain_installs_the_oracle_everywhere(trained):
    state, method, _ = _event_state("retrain", trained)
    for n, b in state.blocks.items():
        assert torch.equal(b, state.oracle["blocks"][n].unsqueeze(0).expand_as(b))
    assert method.costs["extra_local_steps"] > 0 and method.costs["extra_bits"] > 0


def test_no_correction_neither_trains_nor_gossips(trained):
    state, method, before = _event_state("no_correction", trained)
    sched = method.schedule(state, 5)
    assert all(g.local_steps == 0 and not g.is_sync_round(5) for g in sched.groups.values())
    assert sched.record["comm_bits"] == 0
    for n, b in state.blocks.items():
        assert torch.equal(b, before[n])


def test_ewc_anchors_to_the_pre_event_consensus_without_the_leaver(trained):
    blocks, slots = trained
    state, method, before = _event_state("ewc", trained, ewc_weight=0.2)
    cols = _cols(slots, state, "d0")
    for n in state.layer_names:
        expect = blocks[n].mean(dim=0).clone()
        expect[:, cols[n]] = 0.0
        assert torch.allclose(state.anchor[n], expect)
        assert state.prox_weight[n].mean() == pytest.approx(1.0, rel=1e-5)
        assert torch.equal(state.blocks[n], before[n])  # only the anchor and its weights change
    assert np.allclose(method.plan.prox, 0.2)
    assert method.costs["stored_bytes_per_device"] > 0


def test_influence_moves_only_the_members_columns(trained):
    _, slots = trained
    state, method, before = _event_state("influence_d2d", trained)
    live = {
        n: torch.cat(
            [
                torch.arange(state.adapter.slot_columns(d, n).start, state.adapter.slot_columns(d, n).stop)
                for d in state.members
            ]
        )
        for n in state.layer_names
    }
    moved = False
    for n in state.layer_names:
        b, b0 = state.blocks[n], before[n].mean(dim=0)
        other = torch.ones(b.shape[-1], dtype=torch.bool)
        other[live[n]] = False
        assert torch.equal(b[:, :, other], b0[:, other].expand(b.shape[0], -1, -1))  # free + leaver slots
        assert torch.all(b == b[0])  # one Newton step on the consensus, installed everywhere
        moved |= not torch.allclose(b[0][:, live[n]], b0[:, live[n]])
    assert moved


def test_federaser_rebuilds_from_zero_without_the_leaver(trained):
    from wirelora.learning.events import Event
    from wirelora.learning.oracle import train_oracle
    from wirelora.learning.state import TrainerState

    blocks, slots = trained
    state = TrainerState(_config(method="federaser_d2d"), seed=0)
    method = build("federaser_d2d", _context("federaser_d2d", federaser_interval=2))
    method.schedule(state, 0)  # round 0 stores the zero blocks; round 1 is not a storing round
    method.schedule(state, 1)
    assert set(method.recorder.snapshots) == set(state.members)
    assert all(len(v) == 1 for v in method.recorder.snapshots.values())
    state.blocks = {n: b.clone() for n, b in blocks.items()}
    method.schedule(state, 2)  # the second stored update: each device's trained own block
    snaps = method.recorder.snapshots
    for m, d in enumerate(state.members):
        for n in state.layer_names:
            assert torch.equal(snaps[d][1][n], blocks[n][m][:, state.adapter.slot_columns(d, n)])
    restored = build("federaser_d2d", _context("federaser_d2d"))
    restored.load_state_dict(method.state_dict())  # what a checkpoint keeps
    assert restored.recorder.interval == 2 and set(restored.recorder.snapshots) == set(snaps)
    state.round = 4
    event = Event(round=4, leave=("d0",))
    method.before_event(state, event)
    state.apply_event(event, project=True)
    state.oracle = {"blocks": train_oracle(state, None), "eval": {}}
    method.on_event(state, event)
    cols = _cols(slots, state, "d0")
    for n, b in state.blocks.items():
        assert torch.all(b == b[0])  # the rebuilt model on every device
        assert torch.count_nonzero(b[:, :, cols[n]]) == 0
        for d in state.members:  # each member's block has exactly its stored update's norm (scale 1)
            c = state.adapter.slot_columns(d, n)
            stored = torch.linalg.matrix_norm(snaps[d][1][n])
            assert torch.linalg.matrix_norm(b[0][:, c]) == pytest.approx(float(stored), rel=1e-4)
    assert method.costs["stored_bytes_per_device"] == pytest.approx(
        sum(4 * t.numel() for s in snaps["d1"] for t in s.values())
    )


def test_federaser_without_stored_updates_names_the_device(trained):
    from wirelora.learning.events import Event
    from wirelora.learning.state import TrainerState

    state = TrainerState(_config(method="federaser_d2d"), seed=0)
    method = build("federaser_d2d", _context("federaser_d2d"))
    event = Event(round=4, leave=("d0",))
    method.before_event(state, event)
    state.apply_event(event, project=True)
    with pytest.raises(ValueError, match="no stored update of d1 before the leave at round 4"):
        method.on_event(state, event)


def test_kd_penalty_is_zero_at_the_base_model(trained):
    from wirelora.learning.hooks import Batch

    state, method, _ = _event_state("kd_unlearn", trained)
    x, y = state.data(state.members, "train")
    batch = Batch(x=x[:, :4], y=y[:, :4], devices=tuple(state.members))
    zero = {n: torch.zeros_like(b) for n, b in state.blocks.items()}
    logits = state.logits(zero, batch.x).reshape(len(state.members), 4, -1)
    assert torch.allclose(method.penalty(state, logits, batch), torch.zeros(len(state.members)), atol=1e-6)
    logits = state.logits(state.blocks, batch.x).reshape(len(state.members), 4, -1)
    assert torch.all(method.penalty(state, logits, batch) > 0)
    state.round = 100  # outside the correction window: no penalty
    assert method.penalty(state, logits, batch) is None


def test_proposed_schedule_respects_the_wireless_caps(trained):
    state, method, _ = _event_state(
        "proposed", trained, wireless={"latency_cap_s": 0.05, "total_bandwidth_hz": 2e6}
    )
    for r in range(4, 7):
        sched = method.schedule(state, r)
        assert sched.record["latency_s"] <= 0.05 * (1 + 1e-6)
        for gi, g in enumerate(state.group_names):
            assert sched.groups[g].local_steps == method.plan.local_steps[gi]
    assert isinstance(J.skip_period(5), int)
