import pytest

from wirelora.config import ConfigError
from wirelora.learning.events import ChurnConfig, Event, members_at, sample_events, timeline

POOL = [f"d{i}" for i in range(8)]
INITIAL = POOL[:6]


def test_timeline_and_members_paper_long_run():
    ev = [
        Event(200, leave=("d0",)),
        Event(300, join=("d6",)),
        Event(500, leave=("d1",)),
        Event(700, join=("d7",)),
    ]
    out = timeline(list(reversed(ev)), INITIAL, POOL, 1000)
    assert [e.round for e in out] == [200, 300, 500, 700]
    assert members_at(out, INITIAL, 199) == INITIAL
    assert members_at(out, INITIAL, 200) == ["d1", "d2", "d3", "d4", "d5"]
    assert members_at(out, INITIAL, 999) == ["d2", "d3", "d4", "d5", "d6", "d7"]


@pytest.mark.parametrize(
    ("events", "match"),
    [
        ([Event(5, leave=("d7",))], "not a member"),
        ([Event(10, leave=("d0",))], "past the last round 9"),
        ([Event(2, join=("d9",))], "not a device of the task"),
        ([Event(2, join=("d1",))], "already a member"),
        ([Event(2, leave=("d0",)), Event(3, join=("d0",))], "never rejoins"),
        ([Event(2, leave=("d0",)), Event(2, join=("d6",))], "two events in one round"),
    ],
)
def test_timeline_errors_one_line(events, match):
    with pytest.raises(ConfigError, match=match) as info:
        timeline(events, INITIAL, POOL, 10)
    assert "\n" not in str(info.value)


def test_event_validation():
    with pytest.raises(ConfigError, match="round"):
        Event(0, leave=("d0",))
    with pytest.raises(ConfigError, match="leave or a join"):
        Event(3)
    with pytest.raises(ConfigError, match="leave and join at once"):
        Event(3, leave=("d1",), join=("d1",))


def test_sampled_churn_is_seeded_and_valid():
    churn = ChurnConfig(rate=0.2, min_members=3)
    a = sample_events(churn, INITIAL, POOL, 60, seed=4)
    assert a == sample_events(churn, INITIAL, POOL, 60, seed=4)
    assert a != sample_events(churn, INITIAL, POOL, 60, seed=5)
    assert a  # rate 0.2 over 59 rounds
    timeline(a, INITIAL, POOL, 60, min_members=3)  # never invalid
    assert sample_events(ChurnConfig(), INITIAL, POOL, 60, seed=4) == []
