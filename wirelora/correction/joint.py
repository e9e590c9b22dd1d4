"""The joint correction round (docs/method.md §7): the only place where the policy and the bandwidth allocator
meet.

Block coordinate descent per correction round, given the policy's plan (n_g, λ_g, γ_g, H_g, p(g)):

1. redraw the channel (Rayleigh block fading, seeded by (seed, round)) over the fixed device positions;
2. per group g that syncs this round (k mod H_g = 0): a connected graph of density γ_g, random or
   channel-aware (the strongest links);
3. the allocator splits the total bandwidth over (group, link), objective ``weighted`` with the
   priorities p(g) as weights, under the per-link latency cap τ_max (eq. 12b) and the per-round edge-cost
   budget C_t (eq. 12a); both directions of an edge share its sub-band, so a link carries 2 × payload_g bits
   for group g;
4. if no allocation meets C_t or τ_max (InfeasibleError), thin the lowest-priority group still gossiping: drop
   its weakest link whose removal keeps the graph connected (a lower γ_g); once it is a spanning tree, it
   skips this round's sync (a longer H_g), and the next group in priority order is thinned; then re-solve.
   Stop when the allocation is feasible and the objective no longer changes (the first feasible solve:
   thinning only ever removes load).

The result carries the group graphs and which groups gossip, the bandwidth, the round latency, transmit energy
and the paper's edge cost — what the trainer's ``Schedule`` needs, and the per-round record of the History.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from wirelora.correction.plan import GroupPlan
from wirelora.errors import InfeasibleError
from wirelora.network.topology import (
    channel_aware_graph,
    consensus_rate,
    damped_mixing,
    edge_list,
    is_connected,
    metropolis_weights,
    random_connected_graph,
)
from wirelora.streams import stream
from wirelora.units import dbm_to_w
from wirelora.wireless.config import WirelessConfig

__all__ = [
    "JointRound",
    "joint_round",
    "round_rng",
    "expected_consensus_rate",
    "skip_period",
]


@dataclasses.dataclass(frozen=True)
class JointRound:
    """One correction round's joint decision.

    adjacency : [G, M, M] bool, each group's graph (connected). syncs : [G] bool, whether the group gossips
    this round. links : [L, 2] the links used by any group; bandwidth_hz, link_latency_s, edge_cost : [G, L]
    (0 where a group does not use a link). latency_s : the round latency (the slowest link; 0 if nobody
    gossips). energy_j : Σ transmit energy. edge_cost_total : Σ c_ge (eq. 8). bits : Σ bits sent. iterations :
    BCD iterations (1 = the first solve was feasible). thinned : links dropped + syncs skipped by the
    thinning.
    """

    adjacency: np.ndarray
    syncs: np.ndarray
    links: np.ndarray
    bandwidth_hz: np.ndarray
    link_latency_s: np.ndarray
    edge_cost: np.ndarray
    latency_s: float
    energy_j: float
    edge_cost_total: float
    bits: float
    iterations: int
    thinned: int

    def record(self) -> dict[str, float]:
        """The numbers the History round gains."""
        return {
            "latency_s": self.latency_s,
            "energy_j": self.energy_j,
            "edge_cost": self.edge_cost_total,
            "comm_bits": self.bits,
            "bcd_iterations": float(self.iterations),
            "thinned": float(self.thinned),
        }


def round_rng(seed: int, round_index: int) -> np.random.Generator:
    """The generator of one round's channel and graphs: a pure function of (seed, round) (resume needs no
    state)."""
    return stream("channel_round", seed, round_index)


def skip_period(round_index: int) -> int:
    """A sync period that does not divide ``round_index`` (>= 1), i.e. "no gossip this round" for the
    trainer."""
    return int(round_index) + 1 if round_index > 0 else 1


def expected_consensus_rate(num_devices: int, density, *, damping=None, samples: int = 16, seed: int = 0):
    """Mean ρ(W(γ)) over ``samples`` seeded random connected graphs of each density (Metropolis–Hastings
    weights).

    density : scalar or [G]; damping : the mixing weight (None: the density itself). Returns ρ with density's
    shape. Used as the residual rule's ρ(γ) when the graph is drawn at random each round.
    """
    dens = np.atleast_1d(np.asarray(density, dtype=float))
    damp = dens if damping is None else np.broadcast_to(np.asarray(damping, dtype=float), dens.shape)
    out = np.empty(dens.shape)
    for i, (d, g) in enumerate(zip(dens, damp)):
        rng = stream("consensus_rate", seed, round(d * 1e6))
        rates = [
            consensus_rate(
                damped_mixing(metropolis_weights(random_connected_graph(num_devices, d, rng=rng)), g)
            )
            for _ in range(samples)
        ]
        out[i] = float(np.mean(rates))
    return out.reshape(np.shape(density)) if np.ndim(density) else float(out[0])


def _droppable_weakest(adj: np.ndarray, snr: np.ndarray) -> tuple[int, int] | None:
    """The weakest link of ``adj`` whose removal keeps it connected (None for a tree)."""
    e = edge_list(adj)
    for k in np.argsort(snr[e[:, 0], e[:, 1]], kind="stable"):
        i, j = e[k]
        adj[i, j] = adj[j, i] = False
        ok = is_connected(adj)
        adj[i, j] = adj[j, i] = True
        if ok:
            return int(i), int(j)
    return None


def joint_round(
    plan: GroupPlan,
    *,
    round_index: int,
    payload_bits,
    positions_m: np.ndarray,
    cfg: WirelessConfig,
    seed: int,
    correction_round: int | None = None,
) -> JointRound:
    """The BCD of one correction round (see the module docstring).

    payload_bits : [G] bits of group g's factor sent along one direction of an edge. positions_m : [M, 2].
    correction_round : k for the sync test k mod H_g = 0 (default: round_index).
    Never infeasible: thinning ends, at worst, in a round where no group gossips (latency 0).
    """
    from wirelora.allocation import allocate
    from wirelora.wireless.channel import link_gain_lin, link_snr_hz

    payload = np.asarray(payload_bits, dtype=float)
    g_count = plan.num_groups
    if payload.shape != (g_count,) or np.any(payload <= 0) or np.any(~np.isfinite(payload)):
        raise ValueError(f"payload_bits={payload.tolist()!r}: must be {g_count} finite numbers > 0")
    pos = np.asarray(positions_m, dtype=float)
    m = pos.shape[0]
    rng = round_rng(seed, round_index)
    gain = link_gain_lin(pos, rng=rng, fading=True)  # [M, M], redrawn every round
    snr = link_snr_hz(gain, cfg.tx_power_dbm, cfg.noise_psd_dbm_hz)  # [M, M] Hz
    k = round_index if correction_round is None else correction_round
    syncs = (k % plan.sync_period == 0) & (plan.gamma > 0)  # [G]
    adj = np.zeros((g_count, m, m), dtype=bool)
    for g in range(g_count):
        dens = float(plan.gamma[g])
        if cfg.graph == "channel_aware":
            adj[g] = channel_aware_graph(gain, dens)
        else:
            adj[g] = random_connected_graph(m, dens, rng=rng)
    order = np.argsort(plan.priority, kind="stable")  # lowest priority first
    weights = np.maximum(plan.priority, 1e-6)[:, None]  # [G, 1]: one weight per group (L may equal G)
    tx_power_w = dbm_to_w(cfg.tx_power_dbm)
    budget = None if cfg.budget_cost is None else (cfg.budget_cost, cfg.beta_tau)
    thinned = 0
    for it in range(1, cfg.max_iterations + 1):
        used = adj & syncs[:, None, None]  # [G, M, M]
        links = edge_list(used.any(axis=0))  # [L, 2]
        if links.shape[0] == 0:
            z = np.zeros((g_count, 0))
            return JointRound(adj, syncs, links, z, z, z, 0.0, 0.0, 0.0, 0.0, it, thinned)
        on = used[:, links[:, 0], links[:, 1]]  # [G, L]
        q = np.where(on, 2.0 * payload[:, None], 0.0)  # both directions share the link's sub-band
        try:
            alloc = allocate(
                q,
                snr[links[:, 0], links[:, 1]],
                cfg.total_bandwidth_hz,
                objective="weighted",
                weights=weights,
                latency_cap_s=cfg.latency_cap_s,
                tx_power_w=tx_power_w,
                budget=budget,
            )
        except InfeasibleError:
            if not _thin(adj, syncs, order, snr):
                raise
            thinned += 1
            continue
        lat = alloc.link_latency_s
        cost = np.where(on, q + cfg.beta_tau * lat, 0.0)  # eq. 8 per (group, link)
        return JointRound(
            adjacency=adj,
            syncs=syncs,
            links=links,
            bandwidth_hz=alloc.bandwidth_hz,
            link_latency_s=lat,
            edge_cost=cost,
            latency_s=float(alloc.round_latency_s),
            energy_j=float(np.sum(tx_power_w * lat)),
            edge_cost_total=float(cost.sum()),
            bits=float(q.sum()),
            iterations=it,
            thinned=thinned,
        )
    raise InfeasibleError(
        f"wireless.max_iterations={cfg.max_iterations}: no feasible allocation after thinning"
    )


def _thin(adj: np.ndarray, syncs: np.ndarray, order: np.ndarray, snr: np.ndarray) -> bool:
    """One thinning step (in place) on the lowest-priority group still gossiping: drop its weakest droppable
    link (a lower γ_g) or, once its graph is a spanning tree, skip its sync this round (a longer H_g). False
    if no group gossips any more."""
    for g in order:
        if not syncs[g]:
            continue
        edge = _droppable_weakest(adj[g], snr)
        if edge is None:
            syncs[g] = False
        else:
            i, j = edge
            adj[g, i, j] = adj[g, j, i] = False
        return True
    return False
