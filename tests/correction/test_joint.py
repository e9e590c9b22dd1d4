"""The joint policy-allocator round: caps never exceeded, thinning order, determinism."""

import numpy as np
import pytest

from wirelora.config import ConfigError
from wirelora.correction import config as C
from wirelora.correction import joint as J
from wirelora.correction import plan as PL
from wirelora.network.topology import is_connected
from wirelora.wireless.channel import place_devices
from wirelora.wireless.config import WirelessConfig

PAYLOAD = np.array([4.0, 8.0, 16.0]) * 128 * 6 * 32  # bits of the three groups' factors


@pytest.fixture
def plan():
    return PL.fisher_plan([0.635, 1.139, 2.055], C.PolicyConfig(sync_max=1))


@pytest.fixture
def positions():
    return place_devices(6, 250.0, rng=np.random.default_rng(5))


def test_caps_are_never_exceeded(plan, positions):
    free = WirelessConfig(total_bandwidth_hz=2e6)
    lat_free = [
        J.joint_round(plan, round_index=k, payload_bits=PAYLOAD, positions_m=positions, cfg=free, seed=0)
        for k in range(8)
    ]
    # caps set between the least and the typical unconstrained values, so that thinning is needed
    cap = float(np.median([r.link_latency_s.max() for r in lat_free])) * 0.7
    budget = float(np.median([r.bits for r in lat_free])) * 0.9 + 2e6 * cap
    cfg = WirelessConfig(total_bandwidth_hz=2e6, latency_cap_s=cap, budget_cost=budget, beta_tau=2e6)
    thinned = 0
    for k in range(8):
        r = J.joint_round(plan, round_index=k, payload_bits=PAYLOAD, positions_m=positions, cfg=cfg, seed=0)
        assert r.link_latency_s.max(initial=0.0) <= cap * (1 + 1e-6)
        assert r.edge_cost_total <= budget * (1 + 1e-6)
        assert np.sum(r.bandwidth_hz) <= 2e6 * (1 + 1e-6)
        assert all(is_connected(a) for a in r.adjacency)
        assert r.edge_cost_total == pytest.approx(r.bits + 2e6 * r.link_latency_s.sum(), rel=1e-9)
        thinned += r.thinned
    assert thinned > 0  # the caps did bind


def test_thinning_hits_the_lowest_priority_group_first(plan, positions):
    free = WirelessConfig(total_bandwidth_hz=2e6, budget_cost=1e12, beta_tau=1e6)
    r0 = J.joint_round(plan, round_index=1, payload_bits=PAYLOAD, positions_m=positions, cfg=free, seed=0)
    cfg = WirelessConfig(total_bandwidth_hz=2e6, budget_cost=0.85 * r0.edge_cost_total, beta_tau=1e6)
    r = J.joint_round(plan, round_index=1, payload_bits=PAYLOAD, positions_m=positions, cfg=cfg, seed=0)
    edges0, edges = r0.adjacency.sum(axis=(1, 2)) // 2, r.adjacency.sum(axis=(1, 2)) // 2
    assert r.thinned > 0
    # early (lowest p, a spanning tree already) is thinned first: fewer links or no gossip;
    # late (highest p) stays intact
    assert edges[0] < edges0[0] or not r.syncs[0]
    assert edges[2] == edges0[2] and r.syncs[2]


def test_sync_period_and_determinism(positions):
    plan = PL.fisher_plan([0.635, 1.139, 2.055], C.PolicyConfig(sync_max=4))
    cfg = WirelessConfig()
    a = J.joint_round(plan, round_index=3, payload_bits=PAYLOAD, positions_m=positions, cfg=cfg, seed=7)
    b = J.joint_round(plan, round_index=3, payload_bits=PAYLOAD, positions_m=positions, cfg=cfg, seed=7)
    assert np.array_equal(a.bandwidth_hz, b.bandwidth_hz) and a.record() == b.record()
    assert a.syncs.tolist() == (3 % plan.sync_period == 0).tolist()
    c = J.joint_round(plan, round_index=4, payload_bits=PAYLOAD, positions_m=positions, cfg=cfg, seed=7)
    assert not np.array_equal(a.adjacency, c.adjacency) or a.energy_j != c.energy_j  # channels redrawn


def test_channel_aware_graph_uses_strong_links(plan, positions):
    cfg = WirelessConfig(graph="channel_aware")
    r = J.joint_round(plan, round_index=0, payload_bits=PAYLOAD, positions_m=positions, cfg=cfg, seed=0)
    rnd = J.joint_round(
        plan, round_index=0, payload_bits=PAYLOAD, positions_m=positions, cfg=WirelessConfig(), seed=0
    )
    assert r.latency_s < rnd.latency_s


def test_expected_rate_falls_with_density():
    rates = J.expected_consensus_rate(6, np.array([0.2, 0.6, 1.0]), damping=1.0)
    assert np.all(np.diff(rates) < 0) and rates[-1] == pytest.approx(0.0, abs=1e-12)


def test_no_gossip_round_and_skip_period(positions):
    plan = PL.no_correction_schedule(3)
    r = J.joint_round(
        plan, round_index=5, payload_bits=PAYLOAD, positions_m=positions, cfg=WirelessConfig(), seed=0
    )
    assert r.bits == 0 and r.latency_s == 0 and not r.syncs.any()
    assert all(k % J.skip_period(k) != 0 for k in range(1, 50))


def test_bad_wireless_config_names_the_field():
    with pytest.raises(ConfigError, match="wireless.graph"):
        WirelessConfig(graph="mesh")
    with pytest.raises(ConfigError, match="wireless.latency_cap_s"):
        WirelessConfig(latency_cap_s=0.0)
