"""Membership events: who joins and who leaves, at which round (docs/method.md §1, eq. 9).

An event at round r is applied at the start of round r, before the local steps: M_{r} = (M_{r-1} \\ U) ∪ J.
Events come from the config as a list (``events: [{round: 200, leave: [d0]}, {round: 300, join: [d6]}]``) or
are sampled with a churn rate (:func:`sample_events`, seeded). :func:`timeline` validates a list against the
device pool and the run length, with one-line errors (leave of a non-member, event past the last round, ...).
A device that left never rejoins: its data left with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wirelora.config import check_nonnegative, check_probability, require
from wirelora.streams import stream

__all__ = ["Event", "ChurnConfig", "timeline", "sample_events", "members_at"]


@dataclass(frozen=True)
class Event:
    """Devices ``leave`` and ``join`` at the start of ``round`` (device names such as ``"d0"``)."""

    round: int
    leave: tuple[str, ...] = ()
    join: tuple[str, ...] = ()

    def __post_init__(self):
        require(
            isinstance(self.round, int) and self.round >= 1,
            "events.round",
            self.round,
            "must be an integer >= 1",
        )
        object.__setattr__(self, "leave", tuple(self.leave))
        object.__setattr__(self, "join", tuple(self.join))
        require(
            bool(self.leave or self.join), f"events[round={self.round}]", {}, "needs a leave or a join list"
        )
        both = set(self.leave) & set(self.join)
        require(
            not both, f"events[round={self.round}]", sorted(both), "a device cannot leave and join at once"
        )
        require(
            len(set(self.leave)) == len(self.leave),
            f"events[round={self.round}].leave",
            self.leave,
            "repeats",
        )
        require(
            len(set(self.join)) == len(self.join), f"events[round={self.round}].join", self.join, "repeats"
        )


@dataclass(frozen=True)
class ChurnConfig:
    """Sampled churn: each round (from ``start``) an event happens with probability ``rate``; it is a leave
    of a
    random member or a join of a random unused pool device, with probability ``leave_fraction`` for a
    leave."""

    rate: float = 0.0
    start: int = 1
    leave_fraction: float = 0.5
    min_members: int = 2

    def __post_init__(self):
        check_probability("churn.rate", self.rate)
        check_nonnegative("churn.start", self.start)
        check_probability("churn.leave_fraction", self.leave_fraction)
        require(self.min_members >= 1, "churn.min_members", self.min_members, "must be >= 1")


def timeline(
    events: Sequence[Event],
    initial: Sequence[str],
    pool: Sequence[str],
    num_rounds: int,
    *,
    min_members: int = 1,
) -> list[Event]:
    """Validate ``events`` (sorted by round, one per round) against the pool and run length; return them
    sorted.

    Errors (ConfigError, one line): an event at or past ``num_rounds``, two events in one round, a leave of a
    device that is not a member then, a join of a member, of a device that left, or of a device not in the
    pool,
    fewer than ``min_members`` devices left.
    """
    pool_set = set(pool)
    out = sorted(events, key=lambda e: e.round)
    rounds = [e.round for e in out]
    dup = sorted({r for r in rounds if rounds.count(r) > 1})
    require(not dup, "events.round", dup[0] if dup else None, "two events in one round: merge them")
    members = list(initial)
    gone: set[str] = set()
    for e in out:
        require(
            e.round < num_rounds,
            f"events[round={e.round}].round",
            e.round,
            f"past the last round {num_rounds - 1} (move it with --set 'events=[{{round: R, leave: [d0]}}]', "
            "or drop every event with --set events=[])",
        )
        for d in e.leave:
            require(
                d in members, f"events[round={e.round}].leave", d, f"not a member then (members: {members})"
            )
        for d in e.join:
            require(
                d in pool_set,
                f"events[round={e.round}].join",
                d,
                f"not a device of the task (pool: {list(pool)})",
            )
            require(d not in members, f"events[round={e.round}].join", d, "already a member")
            require(d not in gone, f"events[round={e.round}].join", d, "left earlier; a leaver never rejoins")
        members = [d for d in members if d not in e.leave] + list(e.join)
        gone |= set(e.leave)
        require(
            len(members) >= min_members,
            f"events[round={e.round}]",
            len(members),
            f"leaves fewer than {min_members} devices",
        )
    return out


def members_at(events: Sequence[Event], initial: Sequence[str], round_index: int) -> list[str]:
    """Members during ``round_index`` (after that round's event), in member order: stayers first, then
    joiners."""
    members = list(initial)
    for e in sorted(events, key=lambda e: e.round):
        if e.round > round_index:
            break
        members = [d for d in members if d not in e.leave] + list(e.join)
    return members


def sample_events(
    churn: ChurnConfig, initial: Sequence[str], pool: Sequence[str], num_rounds: int, *, seed: int
) -> list[Event]:
    """Churn events drawn from ``seed``: same seed, same events."""
    if churn.rate == 0.0:
        return []
    rng = stream("churn_events", seed)
    members = list(initial)
    unused = [d for d in pool if d not in members]
    out = []
    for r in range(max(1, churn.start), num_rounds):
        if rng.random() >= churn.rate:
            continue
        want_leave = rng.random() < churn.leave_fraction
        if want_leave and len(members) > churn.min_members:
            d = members[int(rng.integers(len(members)))]
            out.append(Event(round=r, leave=(d,)))
            members.remove(d)
        elif unused:
            d = unused.pop(int(rng.integers(len(unused))))
            out.append(Event(round=r, join=(d,)))
            members.append(d)
    return out
