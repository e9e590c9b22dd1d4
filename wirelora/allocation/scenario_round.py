"""Scenarios with a round model (round_model.py) and the uplink cell generator (the Yang et al. instance).

Uplink cell: ``num_users`` devices uniform in a ``square_m`` square with the base station at its centre
(distances below 1 m count as 1 m), path loss 128.1 + 37.6 log10(d / km) dB, log-normal shadowing of
``shadowing_db``, noise ``noise_psd_dbm_hz``; each user uploads ``payload_bits`` to the base station at
``tx_power_dbm`` (the maximum when ``power_variable``). Seeded by ``seed``.
"""

from __future__ import annotations

import numpy as np

from wirelora.allocation.allocator import allocate
from wirelora.allocation.baselines import equal_split
from wirelora.allocation.problem import Allocation, AllocationProblem, evaluate
from wirelora.allocation.round_model import RoundInputs
from wirelora.allocation.round_solve import evaluate_round
from wirelora.allocation.scenario_arrays import Problem
from wirelora.config import ConfigError, check_choice, check_positive, require
from wirelora.units import db_to_lin, dbm_to_w

__all__ = ["check_round_fields", "uplink_problem", "has_round", "round_kwargs", "solve_round_scenario"]

_ROUND_FIELDS = ("compute_time_s", "compute_cycles", "samples", "cpu_hz", "max_cpu_hz", "kappa")


def _finite(field, value):
    require(
        isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value),
        field,
        value,
        "must be a finite number",
    )


def check_round_fields(cfg) -> bool:
    """Validate a Scenario's round-model and uplink fields (ConfigError); True for an uplink cell."""
    check_choice("access", cfg.access, ("fdma", "tdma"))
    for name in ("compute_cycles", "samples", "cpu_hz", "max_cpu_hz", "kappa", "time_weight_j_per_s"):
        if getattr(cfg, name) is not None:
            check_positive(name, getattr(cfg, name))
    if cfg.latency_cap_x_minmax is not None:
        check_positive("latency_cap_x_minmax", cfg.latency_cap_x_minmax)
        require(
            cfg.latency_cap_s is None,
            "latency_cap_x_minmax",
            cfg.latency_cap_x_minmax,
            "give latency_cap_s or latency_cap_x_minmax, not both",
        )
    if cfg.compute_time_s is not None:
        _finite("compute_time_s", cfg.compute_time_s)
        require(cfg.compute_time_s >= 0, "compute_time_s", cfg.compute_time_s, "must be >= 0")
    if cfg.num_users is None:
        return False
    require(
        cfg.links is None and cfg.num_devices is None,
        "num_users",
        cfg.num_users,
        "an uplink cell (num_users) takes neither links nor num_devices",
    )
    require(cfg.num_users >= 1, "num_users", cfg.num_users, "must be an integer >= 1")
    check_positive("square_m", cfg.square_m)
    check_positive("payload_bits", cfg.payload_bits)
    _finite("shadowing_db", cfg.shadowing_db)
    return True


def uplink_problem(cfg):
    """The uplink cell's arrays (a scenario.Problem): one entry per user, one group."""
    rng = np.random.default_rng(cfg.seed)
    half = cfg.square_m / 2.0
    pos = rng.uniform(-half, half, (cfg.num_users, 2))  # base station at the origin
    d_km = np.maximum(np.hypot(pos[:, 0], pos[:, 1]), 1.0) / 1e3
    loss_db = 128.1 + 37.6 * np.log10(d_km) + rng.normal(0.0, cfg.shadowing_db, cfg.num_users)
    p_w = float(dbm_to_w(cfg.tx_power_dbm))
    a = p_w * db_to_lin(-loss_db) / dbm_to_w(cfg.noise_psd_dbm_hz)
    q = np.full(cfg.num_users, float(cfg.payload_bits))
    return Problem(
        q,
        a,
        float(cfg.total_bandwidth_hz),
        np.ones_like(q),
        np.full_like(q, p_w),
        ["uplink"] * cfg.num_users,
        [f"user {k}" for k in range(cfg.num_users)],
    )


def has_round(cfg, objective: str) -> bool:
    return (
        cfg.power_variable
        or cfg.access != "fdma"
        or objective == "energy_time"
        or cfg.latency_cap_x_minmax is not None
        or any(getattr(cfg, f) is not None for f in _ROUND_FIELDS)
    )


def round_kwargs(cfg, prob, objective: str) -> dict:
    """The keyword arguments of ``allocate`` for a round scenario."""
    kw = {
        "objective": objective,
        "weights": prob.weights if objective == "weighted" else None,
        "access": cfg.access,
        "time_weight_j_per_s": cfg.time_weight_j_per_s if objective == "energy_time" else None,
        "compute_time_s": prob.compute_time_s if prob.compute_time_s is not None else cfg.compute_time_s,
        "samples": prob.samples if prob.samples is not None else cfg.samples,
    }
    for f in ("compute_cycles", "cpu_hz", "max_cpu_hz", "kappa", "energy_cap_j"):
        kw[f] = getattr(cfg, f)
    if cfg.budget is not None:
        kw["budget"] = (cfg.budget.total_cost, cfg.budget.beta_tau)
    kw["max_tx_power_w" if cfg.power_variable else "tx_power_w"] = prob.tx_power_w
    cap = cfg.latency_cap_s
    if cfg.latency_cap_x_minmax is not None:
        plain = {
            k: kw[k]
            for k in ("access", "compute_time_s", "compute_cycles", "samples", "cpu_hz", "max_cpu_hz")
        }
        t_star = allocate(
            prob.payload_bits, prob.link_snr_hz, prob.total_bandwidth_hz, **plain
        ).round_latency_s
        cap = cfg.latency_cap_x_minmax * t_star
    kw["latency_cap_s"] = cap
    if objective == "energy_time" and cfg.time_weight_j_per_s is None:
        raise ConfigError("time_weight_j_per_s=None: objective energy_time needs the weight (J per s)")
    return kw


def solve_round_scenario(cfg, prob, objective: str) -> tuple[Allocation, Allocation]:
    """(optimal allocation, the equal split / equal shares at full power and the fastest CPU)."""
    kw = round_kwargs(cfg, prob, objective)
    alloc = allocate(prob.payload_bits, prob.link_snr_hz, prob.total_bandwidth_hz, **kw)
    rest, inputs = RoundInputs.split(kw)
    req = AllocationProblem.build(
        prob.payload_bits, prob.link_snr_hz, prob.total_bandwidth_hz, **rest, round_inputs=inputs
    )
    used = req.used
    if req.round is None:  # only latency_cap_x_minmax: the plain problem
        b = equal_split(prob.payload_bits, prob.total_bandwidth_hz)
        return alloc, evaluate(b, req, method="equal split", solve_time_s=0.0)
    if cfg.access == "tdma":
        x = np.full(int(used.sum()), 1.0 / used.sum())
    else:
        x = equal_split(prob.payload_bits, prob.total_bandwidth_hz)[used]
    power = prob.tx_power_w[used]
    rm = req.round
    f = None
    if rm.cycles is not None:
        f = (rm.cpu_max if rm.cpu_variable else rm.cpu_hz)[used]
    equal = evaluate_round(req, x, power, f, method="equal split", t0=0.0, check=False)
    return alloc, equal
