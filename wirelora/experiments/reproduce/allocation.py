"""The allocator's targets on one generated D2D scenario: ``alloc`` (round latency vs total bandwidth; each
layer group's bandwidth vs its priority) and ``pareto`` (the energy-latency front of the energy objective).

Settings: ``configs/reproduce/allocation.yaml`` (the scenario: payload of a layer group per link and round =
bits/scalar x adapted modules x width x devices x rank).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from wirelora.experiments.reproduce.recipe import Context

__all__ = ["compute_alloc", "compute_pareto", "draw_alloc", "draw_pareto"]


def _scenario(cfg: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """One drawn D2D scenario: (payload_bits [G, L], link_snr_hz [L]) over the edges of a random graph."""
    from wirelora.network.topology import edge_list, random_connected_graph
    from wirelora.wireless.channel import ChannelConfig, channel_snr_hz

    rng = np.random.default_rng(cfg["seed"])
    m = cfg["num_devices"]
    _, snr = channel_snr_hz(m, ChannelConfig(radius_m=cfg["radius_m"]), rng=rng)  # [M, M]
    edges = edge_list(random_connected_graph(m, cfg["density"], rng=rng))  # [L, 2]
    ranks = np.asarray(cfg["ranks"], dtype=float)  # [G]
    per_group = cfg["bits_per_scalar"] * cfg["modules_per_group"] * cfg["width"] * m * ranks  # [G]
    payload = np.repeat(per_group[:, None], len(edges), axis=1)  # [G, L]
    return payload, snr[edges[:, 0], edges[:, 1]]


def _split_latency_s(
    payload_bits: np.ndarray, link_snr_hz: np.ndarray, bandwidth_hz: np.ndarray
) -> np.ndarray:
    """Per-(group, link) latency of a given split. payload_bits, bandwidth_hz : [G, L]; link_snr_hz : [L]."""
    from wirelora.wireless.rates import latency_s, shannon_rate_bps

    return latency_s(payload_bits, shannon_rate_bps(bandwidth_hz, link_snr_hz))


def compute_alloc(cfg: Mapping[str, Any], ctx: Context) -> dict:
    from wirelora.allocation import allocate
    from wirelora.allocation.closed_form import minmax_latency

    payload, snr = _scenario(cfg)
    totals = np.geomspace(cfg["min_bandwidth_hz"], cfg["max_bandwidth_hz"], cfg["num_bandwidths"])
    lat: dict[str, list[float]] = {"convex": [], "equal": [], "proportional": [], "optimum": []}
    for total in ctx.bar(totals, desc="alloc: bandwidth sweep"):
        lat["convex"].append(allocate(payload, snr, total, method="cvxpy").round_latency_s)
        lat["optimum"].append(minmax_latency(payload, snr, total)[0])
        equal = np.full(payload.shape, total / payload.size)
        lat["equal"].append(float(np.max(_split_latency_s(payload, snr, equal))))
        prop = total * payload / payload.sum()
        lat["proportional"].append(float(np.max(_split_latency_s(payload, snr, prop))))
    # right panel: one group's priority p varied, the other groups share 1 - p evenly (weighted objective)
    groups = list(cfg["group_names"])
    varied = groups.index(cfg["varied_group"])
    priorities = np.linspace(0.05, 0.9, cfg["num_priorities"])
    share: dict[str, list[float]] = {g: [] for g in groups}
    for p in ctx.bar(priorities, desc="alloc: priority sweep"):
        w = np.full(len(groups), (1.0 - p) / (len(groups) - 1))
        w[varied] = p
        a = allocate(
            payload, snr, cfg["priority_bandwidth_hz"], objective="weighted", weights=w, method="cvxpy"
        )
        for g, b in zip(groups, np.asarray(a.bandwidth_hz).sum(axis=1) / cfg["priority_bandwidth_hz"]):
            share[g].append(float(b))
    return {
        "total_bandwidth_hz": totals,
        "latency_s": lat,
        "priority": priorities,
        "varied_group": cfg["varied_group"],
        "bandwidth_share": share,
        "num_links": int(payload.shape[1]),
    }


def compute_pareto(cfg: Mapping[str, Any], ctx: Context) -> dict:
    from wirelora.allocation import allocate
    from wirelora.allocation.closed_form import minmax_latency, weighted_latency
    from wirelora.units import dbm_to_w

    payload, snr = _scenario(cfg)
    total = cfg["total_bandwidth_hz"]
    power_w = float(dbm_to_w(cfg["tx_power_dbm"]))
    t_star, b_minmax = minmax_latency(payload, snr, total)
    # the unconstrained energy minimiser (equal powers: min Σ latency); past its slowest link: flat front
    _, b_free = weighted_latency(payload, snr, total, np.ones(len(cfg["ranks"])))
    t_free = float(np.max(_split_latency_s(payload, snr, b_free)))
    caps = np.geomspace(t_star * (1 + 1e-3), t_free, cfg["num_caps"])
    front_lat, front_energy = [], []
    for cap in ctx.bar(caps, desc="pareto: latency caps"):
        a = allocate(
            payload,
            snr,
            total,
            objective="energy",
            latency_cap_s=float(cap),
            tx_power_w=power_w,
            method="cvxpy",
        )
        front_lat.append(a.round_latency_s)
        front_energy.append(float(np.sum(a.energy_j)))

    def point(b: np.ndarray) -> list[float]:
        t = _split_latency_s(payload, snr, b)
        return [float(np.max(t)), float(power_w * np.sum(t))]

    return {
        "latency_cap_s": caps,
        "latency_s": front_lat,
        "energy_j": front_energy,
        "points": {
            "minmax": point(b_minmax),
            "equal": point(np.full(payload.shape, total / payload.size)),
            "proportional": point(total * payload / payload.sum()),
        },
    }


def draw_alloc(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.alloc_figure(data)


def draw_pareto(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.pareto_figure(data)
