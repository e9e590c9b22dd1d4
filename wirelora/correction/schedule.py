"""The per-round, per-layer-group schedule: how much each group trains and how it gossips.

A :class:`Schedule` is what the correction policy (and the allocator behind it) hands the trainer each
round: per layer group g the local steps n_g, step size η_g, proximal weight λ_g, mixing damping γ_g, sync
period H_g and the group's graph over the active devices (adjacency in member order). ``record`` carries
extra per-round numbers (latency_s, energy_j, edge_cost, ...) that the trainer copies into the History round
unchanged.

The default is :func:`uniform_schedule`: the same n, η, λ, γ, H for every group, from the trainer config,
and a connected random graph of density ``density`` per group, redrawn every round (``graph: random``) or
drawn once for the initial members (``graph: fixed``: the induced subgraph of that draw, plus joiners
attached at random), the complete graph / ring, or ``graph: edges``: a fixed list of device-name pairs
(induced on the current members; the trainer config checks that it stays connected through the events).
Every draw is seeded from (seed, round, group) so that resume needs no RNG state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from wirelora.network.topology import (
    complete_graph,
    connected_components,
    edge_list,
    is_connected,
    random_connected_graph,
    ring_graph,
)
from wirelora.streams import stream

__all__ = ["GroupSchedule", "Schedule", "uniform_schedule", "edges_graph", "GRAPH_KINDS", "graph_rng"]

GRAPH_KINDS = ("random", "fixed", "complete", "ring", "edges")


@dataclass(frozen=True)
class GroupSchedule:
    """One layer group's settings for one round.

    adjacency : [M, M] bool, symmetric, False diagonal, over the active devices in member order; must be
    connected.
    """

    local_steps: int
    step_size: float
    prox: float
    gamma: float
    sync_period: int
    adjacency: np.ndarray

    def __post_init__(self):
        if not isinstance(self.local_steps, int | np.integer) or self.local_steps < 0:
            raise ValueError(f"local_steps={self.local_steps!r}: must be an integer >= 0")
        if not np.isfinite(self.step_size) or self.step_size < 0:
            raise ValueError(f"step_size={self.step_size!r}: must be a finite number >= 0")
        if not np.isfinite(self.prox) or self.prox < 0:
            raise ValueError(f"prox={self.prox!r}: must be a finite number >= 0")
        if not np.isfinite(self.gamma) or not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma={self.gamma!r}: must be in [0, 1]")
        if not isinstance(self.sync_period, int | np.integer) or self.sync_period < 1:
            raise ValueError(f"sync_period={self.sync_period!r}: must be an integer >= 1")
        adj = np.asarray(self.adjacency, dtype=bool)
        if adj.ndim != 2 or adj.shape[0] != adj.shape[1]:
            raise ValueError(f"adjacency: must be square [M, M], got shape {adj.shape}")
        if not np.array_equal(adj, adj.T) or adj.diagonal().any():
            raise ValueError("adjacency: must be symmetric with a False diagonal")
        object.__setattr__(self, "adjacency", adj)

    def is_sync_round(self, round_index: int) -> bool:
        return round_index % self.sync_period == 0

    def to_record(self, members: Sequence[str]) -> dict:
        """JSON form for the History: numbers, and edges as pairs of device names."""
        return {
            "local_steps": int(self.local_steps),
            "step_size": float(self.step_size),
            "prox": float(self.prox),
            "gamma": float(self.gamma),
            "sync_period": int(self.sync_period),
            "edges": [[members[i], members[j]] for i, j in edge_list(self.adjacency)],
        }


@dataclass(frozen=True)
class Schedule:
    """All groups' settings for one round, keyed by group name, plus extra numbers for the History."""

    groups: Mapping[str, GroupSchedule]
    record: dict[str, float] = field(default_factory=dict)

    def check(self, group_names: Sequence[str], num_members: int, round_index: int) -> None:
        """Every group present, every graph over ``num_members`` devices and connected (ValueError
        otherwise)."""
        missing = [g for g in group_names if g not in self.groups]
        if missing:
            raise ValueError(f"schedule at round {round_index}: no entry for group {missing[0]!r}")
        for g in group_names:
            adj = self.groups[g].adjacency
            if adj.shape[0] != num_members:
                raise ValueError(
                    f"schedule at round {round_index}: group {g!r} graph has {adj.shape[0]} nodes, "
                    f"{num_members} devices are active"
                )
            if not is_connected(adj):
                raise ValueError(f"schedule at round {round_index}: group {g!r} graph is disconnected")


def edges_graph(members: Sequence[str], edges: Sequence[Sequence[str]]) -> np.ndarray:
    """[M, M] adjacency of the device-name pairs ``edges`` among ``members`` (pairs with a non-member are
    dropped: the induced subgraph)."""
    pos = {d: i for i, d in enumerate(members)}
    adj = np.zeros((len(members), len(members)), dtype=bool)
    for a, b in edges:
        if a in pos and b in pos and a != b:
            adj[pos[a], pos[b]] = adj[pos[b], pos[a]] = True
    return adj


def graph_rng(seed: int, round_index: int, group_index: int) -> np.random.Generator:
    """The generator for one (round, group) graph draw: a pure function of its indices (resume needs no
    state)."""
    return stream("round_graph", seed, round_index, group_index)


def _fixed_graph(
    members: Sequence[str], initial: Sequence[str], density: float, seed: int, gi: int
) -> np.ndarray:
    """One draw over the initial members; joiners attach to random current members (connected by
    construction)."""
    base = random_connected_graph(len(initial), density, rng=stream("fixed_graph", seed, gi))
    pos = {d: i for i, d in enumerate(initial)}
    m = len(members)
    adj = np.zeros((m, m), dtype=bool)
    old = [i for i, d in enumerate(members) if d in pos]
    idx = np.array([pos[members[i]] for i in old], dtype=np.int64)
    adj[np.ix_(old, old)] = base[np.ix_(idx, idx)]
    for i, d in enumerate(members):
        if d not in pos:
            # A joiner links to one earlier member, chosen by a generator keyed on its name (order-free).
            r = stream("joiner_link", seed, gi, *map(ord, d))
            if i > 0:
                j = int(r.integers(0, i))
                adj[i, j] = adj[j, i] = True
    if not is_connected(adj):
        # A leaver cut the induced subgraph: bridge components with a path in member order (deterministic).
        comp = connected_components(adj)
        for a, b in zip(comp[:-1], comp[1:]):
            adj[a[0], b[0]] = adj[b[0], a[0]] = True
    return adj


def uniform_schedule(
    group_names: Sequence[str],
    members: Sequence[str],
    round_index: int,
    *,
    local_steps: int,
    step_size: float,
    prox: float,
    gamma: float,
    sync_period: int,
    density: float,
    graph: str = "random",
    initial_members: Sequence[str] | None = None,
    edges: Sequence[Sequence[str]] = (),
    seed: int,
) -> Schedule:
    """The same settings for every group; one graph per group (see the module docstring for ``graph``;
    ``graph="edges"``: the given device-name pairs, induced on the members)."""
    if graph not in GRAPH_KINDS:
        raise ValueError(f"graph={graph!r}: must be one of {', '.join(GRAPH_KINDS)}")
    m = len(members)
    groups = {}
    for gi, g in enumerate(group_names):
        if graph == "random":
            adj = random_connected_graph(m, density, rng=graph_rng(seed, round_index, gi))
        elif graph == "fixed":
            adj = _fixed_graph(members, initial_members or members, density, seed, gi)
        elif graph == "edges":
            adj = edges_graph(members, edges)
        elif graph == "complete":
            adj = complete_graph(m)
        else:
            adj = ring_graph(m)
        groups[g] = GroupSchedule(
            local_steps=local_steps,
            step_size=step_size,
            prox=prox,
            gamma=gamma,
            sync_period=sync_period,
            adjacency=adj,
        )
    return Schedule(groups=groups)
