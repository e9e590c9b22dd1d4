import numpy as np
import pytest

from wirelora.correction.schedule import GroupSchedule, Schedule, uniform_schedule
from wirelora.network.topology import is_connected, num_edges_for_density

GROUPS = ["early", "mid", "late"]
MEMBERS = [f"d{i}" for i in range(6)]


def make(graph, round_index=0, members=MEMBERS, seed=0, **kw):
    args = dict(local_steps=1, step_size=0.1, prox=0.0, gamma=0.4, sync_period=1, density=0.4)
    args.update(kw)
    return uniform_schedule(
        GROUPS, members, round_index, graph=graph, initial_members=MEMBERS, seed=seed, **args
    )


def test_random_graphs_connected_density_and_seeded():
    s = make("random", 3)
    for g in GROUPS:
        adj = s.groups[g].adjacency
        assert is_connected(adj)
        assert adj.sum() // 2 == num_edges_for_density(6, 0.4)
    # redrawn per round and per group, identical for the same (seed, round)
    assert not np.array_equal(
        s.groups["early"].adjacency, make("random", 4).groups["early"].adjacency
    ) or not np.array_equal(s.groups["mid"].adjacency, make("random", 4).groups["mid"].adjacency)
    for g in GROUPS:
        assert np.array_equal(s.groups[g].adjacency, make("random", 3).groups[g].adjacency)


def test_fixed_graph_survives_membership_changes():
    a = make("fixed", 0)
    b = make("fixed", 9)
    for g in GROUPS:
        assert np.array_equal(a.groups[g].adjacency, b.groups[g].adjacency)
    after = make("fixed", 10, members=["d1", "d2", "d3", "d4", "d5", "d6"])
    for g in GROUPS:
        adj = after.groups[g].adjacency
        assert is_connected(adj)
        # edges among stayers are the induced subgraph, unless a bridge was needed
        sub = a.groups[g].adjacency[1:, 1:]
        assert np.all(adj[:5, :5] >= sub)


def test_complete_and_ring():
    assert make("complete").groups["mid"].adjacency.sum() == 30
    assert make("ring").groups["mid"].adjacency.sum() == 12


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"local_steps": -1}, "local_steps"),
        ({"gamma": 1.5}, "gamma"),
        ({"sync_period": 0}, "sync_period"),
        ({"prox": float("nan")}, "prox"),
    ],
)
def test_group_schedule_validation(kw, match):
    args = dict(
        local_steps=1, step_size=0.1, prox=0.0, gamma=0.5, sync_period=1, adjacency=np.zeros((2, 2), bool)
    )
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        GroupSchedule(**args)


def test_schedule_check_rejects_missing_group_wrong_size_disconnected():
    adj = np.array([[0, 1], [1, 0]], dtype=bool)
    ok = GroupSchedule(1, 0.1, 0.0, 0.5, 1, adj)
    with pytest.raises(ValueError, match="no entry for group 'mid'"):
        Schedule({"early": ok}).check(["early", "mid"], 2, 0)
    with pytest.raises(ValueError, match="3 devices are active"):
        Schedule({"early": ok}).check(["early"], 3, 0)
    cut = GroupSchedule(1, 0.1, 0.0, 0.5, 1, np.zeros((2, 2), bool))
    with pytest.raises(ValueError, match="round 7: group 'early' graph is disconnected"):
        Schedule({"early": cut}).check(["early"], 2, 7)


def test_sync_rounds_and_record():
    gs = GroupSchedule(2, 0.1, 0.0, 0.5, 3, np.array([[0, 1], [1, 0]], dtype=bool))
    assert [gs.is_sync_round(k) for k in range(7)] == [True, False, False, True, False, False, True]
    rec = gs.to_record(["d3", "d7"])
    assert rec["edges"] == [["d3", "d7"]] and rec["local_steps"] == 2 and rec["sync_period"] == 3
