"""The round loop: gossip, ownership, events, hooks, equivalence of the vectorised and per-device paths."""

import dataclasses

import numpy as np
import pytest
import torch
from tiny_runs import tiny_run_raw

from wirelora.config import ConfigError, from_dict
from wirelora.correction.schedule import GroupSchedule, Schedule
from wirelora.distributed.backend import InProcessBackend
from wirelora.errors import DivergenceError
from wirelora.learning import RunConfig, TrainerState, run
from wirelora.learning.events import Event
from wirelora.lora import contribution_residual
from wirelora.network.topology import complete_graph, consensus_rate, metropolis_weights


def mlp_config(**over) -> RunConfig:
    return from_dict(RunConfig, tiny_run_raw(**over))


def strip(h):
    return h.without_timing()


def assert_histories_close(a, b, atol):
    ra, rb = a.without_timing()["rounds"], b.without_timing()["rounds"]
    assert len(ra) == len(rb)
    for x, y in zip(ra, rb):
        assert x.keys() == y.keys()
        for k in x:
            _close(x[k], y[k], atol, k)


def _close(x, y, atol, key):
    if isinstance(x, dict):
        assert x.keys() == y.keys(), key
        for k in x:
            _close(x[k], y[k], atol, f"{key}.{k}")
    elif isinstance(x, list):
        assert len(x) == len(y), key
        for u, v in zip(x, y):
            _close(u, v, atol, key)
    elif isinstance(x, float):
        assert y == pytest.approx(x, abs=atol), key
    else:
        assert x == y, key


def test_complete_graph_mh_gamma_one_averages_in_one_step():
    st = TrainerState(mlp_config(), seed=0)
    gen = torch.Generator().manual_seed(0)
    st.blocks = {n: torch.randn(b.shape, generator=gen) for n, b in st.blocks.items()}
    mean = {n: b.mean(0) for n, b in st.blocks.items()}
    adj = complete_graph(len(st.members))
    sched = Schedule({g: GroupSchedule(1, 0.1, 0.0, 1.0, 1, adj) for g in st.group_names})
    bits = st.exchange(sched, 0, InProcessBackend())
    for n, b in st.blocks.items():
        torch.testing.assert_close(b, mean[n].expand_as(b), atol=1e-6, rtol=0)
    assert st.consensus_distance() == pytest.approx(0.0, abs=1e-10)
    # both directions of each of the 6 edges carry the group's member columns
    g = st.group_names[0]
    cols = sum(st.adapter.rank(n) * len(st.members) * st.blocks[n].shape[1] for n in st.groups[g])
    assert bits[g] == 2 * 6 * 32 * cols


def test_consensus_contracts_at_rate_rho(rng):
    st = TrainerState(mlp_config(), seed=0)
    m = len(st.members)
    adj = np.array([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0]], dtype=bool)  # a path
    gamma = 0.7
    w = (1 - gamma) * np.eye(m) + gamma * metropolis_weights(adj)
    rho = consensus_rate(w)
    # start on the slowest disagreement direction: the eigenvector of W − J with |eigenvalue| = ρ
    vals, vecs = np.linalg.eigh(w - np.full((m, m), 1 / m))
    v = vecs[:, np.argmax(np.abs(vals))]
    st.blocks = {
        n: torch.as_tensor(v, dtype=torch.float32)[:, None, None] * torch.ones_like(b)
        for n, b in st.blocks.items()
    }
    sched = Schedule({g: GroupSchedule(1, 0.1, 0.0, gamma, 1, adj) for g in st.group_names})
    d0 = st.consensus_distance()
    for k in range(1, 6):
        st.exchange(sched, k, InProcessBackend())
        assert st.consensus_distance() == pytest.approx(d0 * rho ** (2 * k), rel=1e-4)
    # and any start contracts at least that fast
    gen = torch.Generator().manual_seed(1)
    st.blocks = {n: torch.randn(b.shape, generator=gen) for n, b in st.blocks.items()}
    d0 = st.consensus_distance()
    for k in range(1, 6):
        st.exchange(sched, k, InProcessBackend())
        assert st.consensus_distance() <= d0 * rho ** (2 * k) * (1 + 1e-5)


def test_sync_period_skips_rounds_and_bits():
    st = TrainerState(mlp_config(), seed=0)
    gen = torch.Generator().manual_seed(0)
    st.blocks = {n: torch.randn(b.shape, generator=gen) for n, b in st.blocks.items()}
    before = {n: b.clone() for n, b in st.blocks.items()}
    adj = complete_graph(len(st.members))
    sched = Schedule({g: GroupSchedule(1, 0.1, 0.0, 1.0, 3, adj) for g in st.group_names})
    bits = st.exchange(sched, 4, InProcessBackend())  # 4 mod 3 != 0
    assert all(b == 0 for b in bits.values())
    for n in st.blocks:
        assert torch.equal(st.blocks[n], before[n])


def test_block_ownership_step_changes_only_own_block():
    st = TrainerState(mlp_config(**{"trainer.optimizer": "sgd", "trainer.step_size": 0.5}), seed=0)
    gen = torch.Generator().manual_seed(0)
    st.blocks = {n: 0.1 * torch.randn(b.shape, generator=gen) for n, b in st.blocks.items()}
    before = {n: b.clone() for n, b in st.blocks.items()}
    st.local_steps(st.default_schedule(0), 0)
    for n in st.layer_names:
        for m, d in enumerate(st.members):
            own = st.adapter.slot_columns(d, n)
            keep = torch.ones(st.blocks[n].shape[-1], dtype=torch.bool)
            keep[own] = False
            assert torch.equal(st.blocks[n][m][:, keep], before[n][m][:, keep])
            assert not torch.equal(st.blocks[n][m][:, own], before[n][m][:, own])


def test_shared_ownership_trains_every_member_block_but_no_free_slot():
    st = TrainerState(
        mlp_config(**{"trainer.ownership": "shared", "trainer.optimizer": "sgd", "trainer.step_size": 0.5}),
        seed=0,
    )
    gen = torch.Generator().manual_seed(0)
    st.blocks = {n: 0.1 * torch.randn(b.shape, generator=gen) for n, b in st.blocks.items()}
    before = {n: b.clone() for n, b in st.blocks.items()}
    st.local_steps(st.default_schedule(0), 0)
    n = st.layer_names[0]
    for d in st.members:
        cols = st.adapter.slot_columns(d, n)
        assert not torch.equal(st.blocks[n][:, :, cols], before[n][:, :, cols])
    free = st.adapter.slot_columns("d0", n).stop * len(st.task.devices)  # past every pool slot: never used
    assert torch.equal(st.blocks[n][:, :, free:], before[n][:, :, free:])


def test_leave_zeroes_contribution_on_every_device_and_keeps_other_blocks():
    st = TrainerState(mlp_config(), seed=0)
    for r in range(2):
        st.local_steps(st.default_schedule(r), r)
        st.exchange(st.default_schedule(r), r, InProcessBackend())
    before = {n: b.clone() for n, b in st.blocks.items()}
    cols = {n: st.adapter.slot_columns("d1", n) for n in st.layer_names}
    assert all(float(before[n][:, :, cols[n]].abs().sum()) > 0 for n in st.layer_names)
    st.apply_event(Event(round=2, leave=("d1",)), project=True)
    keep = [0, 2, 3]
    for n in st.layer_names:
        a = st.adapter.basis_matrix(n)
        assert torch.all(st.blocks[n][:, :, cols[n]] == 0)  # the leaver's block is exactly zero in every copy
        # ‖ΔW A_u‖ / ‖ΔW‖ is then only the float32 round-off of A_jᵀA_u = 0 (slotted bases)
        res = contribution_residual(st.blocks[n], a, cols[n])  # [M]
        assert torch.all(res < 1e-6)
        other = torch.ones(before[n].shape[-1], dtype=torch.bool)
        other[cols[n]] = False
        assert torch.equal(st.blocks[n][:, :, other], before[n][keep][:, :, other])
    assert st.members == ["d0", "d2", "d3"]
    assert st.sets == {"retain": ("d0", "d2", "d3"), "join": (), "forget": ("d1",)}


def test_naive_remove_keeps_the_leaver_block():
    st = TrainerState(mlp_config(), seed=0)
    st.local_steps(st.default_schedule(0), 0)
    before = {n: b.clone() for n, b in st.blocks.items()}
    st.apply_event(Event(round=1, leave=("d1",)), project=False)
    n = st.layer_names[0]
    cols = st.adapter.slot_columns("d1", n)  # the ghost keeps its slot
    assert torch.equal(st.blocks[n][:, :, cols], before[n][[0, 2, 3]][:, :, cols])
    assert st.ghosts == ["d1"]


def test_joiner_block_trains_and_spreads():
    cfg = mlp_config(**{"trainer.rounds": 7})
    st = TrainerState(cfg, seed=0)
    st.apply_event(Event(round=1, join=("d4",)), project=True)
    n = st.layer_names[-1]
    cols = st.adapter.slot_columns("d4", n)
    row = st.members.index("d4")
    warm = st.blocks[n][:, :, cols]
    assert float(warm[row].abs().sum()) > 0  # the warm start trained the joiner's own block
    assert float(warm[:row].abs().sum()) == 0  # nobody else has it yet
    sched = st.default_schedule(1)
    st.exchange(sched, 1, InProcessBackend())
    assert float(st.blocks[n][:row, :, cols].abs().sum()) > 0  # gossip carried it


@pytest.mark.parametrize(
    "over",
    [
        {"trainer.local_steps": 2, "trainer.prox": 0.1},  # block ownership, Adam, prox after the events
        {
            "trainer.ownership": "shared",
            "trainer.optimizer": "sgd",
            "trainer.step_size": 0.5,
        },
    ],
)
def test_vectorised_equals_per_device_loop(over):
    cfg = mlp_config(**over)
    a = run(cfg, seed=3)
    b = run(dataclasses.replace(cfg, trainer=dataclasses.replace(cfg.trainer, vectorised=False)), seed=3)
    assert_histories_close(a, b, atol=1e-5)


def test_same_seed_same_history_bit_for_bit():
    cfg = mlp_config()
    assert strip(run(cfg, seed=5)) == strip(run(cfg, seed=5))
    assert strip(run(cfg, seed=5)) != strip(run(cfg, seed=6))


def test_resume_equals_uninterrupted(tmp_path):
    cfg = mlp_config(**{"trainer.rounds": 7})
    full = run(cfg, seed=1)
    run(cfg, seed=1, out_dir=tmp_path, stop_after=2)  # stops with a checkpoint after round 2
    resumed = run(cfg, seed=1, out_dir=tmp_path, resume=True)
    assert strip(resumed)["rounds"] == strip(full)["rounds"]


def test_divergence_names_round_and_device():
    cfg = mlp_config(**{"trainer.optimizer": "sgd", "trainer.step_size": 1e4, "trainer.max_loss": 50.0})
    with pytest.raises(DivergenceError, match=r"round \d+: device d\d"):
        run(cfg, seed=0)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"trainer.bogus": 1}, "unknown key trainer.bogus"),
        ({"events": [{"round": 2, "leave": ["d4"]}]}, "not a member"),
        ({"events": [{"round": 9, "leave": ["d0"]}]}, "past the last round"),
        ({"trainer.graph": "star"}, "trainer.graph"),
        (
            {"trainer.graph": "edges", "trainer.edges": [["d0", "d1"], ["d2", "d3"]]},
            "round 0\\) is disconnected",
        ),
        # a path d0-d1-d2-d3 is cut when d1 leaves at round 2
        (
            {
                "trainer.graph": "edges",
                "trainer.edges": [["d0", "d1"], ["d1", "d2"], ["d2", "d3"], ["d3", "d4"]],
            },
            "round 2\\) is disconnected",
        ),
    ],
)
def test_config_errors_are_one_line(override, message):
    with pytest.raises(ConfigError, match=message) as info:
        mlp_config(**override)
    assert "\n" not in str(info.value)


def test_disconnected_schedule_is_rejected():
    class Cut:
        def schedule(self, state, r):
            adj = np.zeros((len(state.members),) * 2, dtype=bool)
            return Schedule({g: GroupSchedule(1, 0.01, 0.0, 0.5, 1, adj) for g in state.group_names})

    with pytest.raises(ValueError, match="disconnected"):
        run(mlp_config(), seed=0, correction=Cut())


def test_correction_hooks_and_record():
    calls = []

    class Probe:
        project_on_leave = True

        def on_event(self, state, event):
            calls.append(("event", event.round, list(state.members)))
            state.anchor = {n: torch.zeros_like(b) for n, b in state.consensus().items()}

        def schedule(self, state, r):
            s = state.default_schedule(r)
            return Schedule(s.groups, record={"latency_s": 0.5 + r})

        def penalty(self, state, logits, batch):
            calls.append(("penalty", logits.shape[0], len(batch.devices)))
            return torch.zeros(logits.shape[0])

    h = run(mlp_config(), seed=0, correction=Probe())
    assert ("event", 2, ["d0", "d2", "d3"]) in calls
    assert ("event", 4, ["d0", "d2", "d3", "d4"]) in calls
    assert ("penalty", 4, 4) in calls
    assert [r["latency_s"] for r in h.rounds] == [0.5 + r for r in range(6)]


def test_history_layout_and_sets():
    h = run(mlp_config(), seed=0)
    r0, r2, r4 = h.rounds[0], h.rounds[2], h.rounds[4]
    for key in (
        "round",
        "members",
        "retain_loss",
        "join_loss",
        "forget_loss",
        "consensus_distance",
        "bits_sent",
    ):
        assert key in r0
    assert r0["join_loss"] is None and r0["forget_loss"] is None and r0["retain_loss"] is not None
    assert r2["event"] == {"leave": ["d1"], "join": []} and r2["forget_loss"] is not None
    assert r4["join_loss"] is not None and r4["forget_loss"] is None  # sets follow the latest event
    assert len(r4["device_losses"]["retain"]) == 4
    assert set(r0["schedule"]) == {"early", "mid", "late"}


def test_gradients_helpers_agree():
    st = TrainerState(mlp_config(), seed=0)
    gen = torch.Generator().manual_seed(0)
    st.blocks = {n: 0.1 * torch.randn(b.shape, generator=gen) for n, b in st.blocks.items()}
    point = st.consensus()
    g = st.local_gradients(point, num_samples=4)  # per device, mean loss over its 4 samples
    ps = st.per_sample_gradients("late", point=point, num_samples=4)  # [M·4, out, S]
    for n in st.groups["late"]:
        per_dev = ps[n].reshape(len(st.members), 4, *ps[n].shape[1:]).mean(1)
        torch.testing.assert_close(per_dev, g[n], atol=1e-6, rtol=1e-4)


def test_oracle_is_cached_and_recorded(tmp_path):
    cfg = mlp_config(**{"oracle": {"enabled": True, "rounds": 3, "cache_dir": str(tmp_path)}})
    h1 = run(cfg, seed=0)
    files = sorted(tmp_path.glob("oracle-*.safetensors"))
    assert len(files) == 2  # one per event
    r = h1.rounds[3]
    assert r["oracle_retain_loss"] is not None and r["oracle_forget_loss"] is not None
    assert h1.rounds[1].get("oracle_retain_loss") is None
    stamp = [f.stat().st_mtime_ns for f in files]
    h2 = run(cfg, seed=0)
    assert [f.stat().st_mtime_ns for f in files] == stamp  # read, not retrained
    assert strip(h1) == strip(h2)


def test_minilm_topics_smoke():
    """The real path: MiniLM + frozen topic-name head on chatterbot-corpus topics, a leave, two rounds."""
    cfg = from_dict(
        RunConfig,
        {
            "model": {"name": "minilm"},
            "task": {
                "kind": "topics",
                "num_devices": 3,
                "initial_devices": 3,
                "train_per_device": 8,
                "eval_per_device": 4,
                "max_tokens": 12,
            },
            "trainer": {"rounds": 3, "batch_size": 2, "step_size": 0.01, "device_losses": False},
            "events": [{"round": 2, "leave": ["d0"]}],
        },
    )
    h = run(cfg, seed=0)
    assert h.rounds[2]["members"] == ["d1", "d2"] and h.rounds[2]["forget_acc"] is not None
    assert all(np.isfinite(r["train_loss"]) for r in h.rounds)


def test_explicit_edges_graph():
    edges = [["d0", "d1"], ["d0", "d2"], ["d2", "d3"], ["d3", "d0"], ["d3", "d4"]]
    h = run(mlp_config(**{"trainer.graph": "edges", "trainer.edges": edges}), seed=0)
    assert h.rounds[0]["schedule"]["mid"]["edges"] == [["d0", "d1"], ["d0", "d2"], ["d0", "d3"], ["d2", "d3"]]
    assert h.rounds[5]["schedule"]["mid"]["edges"] == [["d0", "d2"], ["d0", "d3"], ["d2", "d3"], ["d3", "d4"]]


def test_sampled_churn_run():
    cfg = mlp_config(**{"events": [], "churn": {"rate": 0.5, "min_members": 2}, "trainer.rounds": 8})
    h = run(cfg, seed=2)
    events = [r["event"] for r in h.rounds if r["event"]]
    assert events  # rate 0.5 over rounds 1..7
    assert h.meta["events"] and all(len(r["members"]) >= 2 for r in h.rounds)
    assert strip(h) == strip(run(cfg, seed=2))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_cuda_request_without_a_gpu_is_a_config_error():
    with pytest.raises(ConfigError, match="trainer.device='cuda': no CUDA device"):
        run(mlp_config(**{"trainer.device": "cuda"}), seed=0)
