"""Allocation scenarios (the ``wirelora allocate`` schema): load, build the problem, solve.

A scenario is either explicit links::

    total_bandwidth_hz: 1.0e6
    links:                       # one entry per (group, link) pair
      - {payload_bits: 4.0e6, link_snr_hz: 2.0e7, group: early, weight: 0.2}
      - {payload_bits: 8.0e6, gain_db: -110, tx_power_dbm: 20}    # link_snr_hz = p h / N0

or generated: ``num_devices``, ``radius_m``, ``seed``, ``density`` (graph density), ``graph`` (random or
channel_aware) and ``groups`` (name, payload_bits, priority, optional density), drawn with the channel of
method.md §7, or an uplink cell (``num_users`` in a ``square_m`` square around one base station, path loss
128.1 + 37.6 log10 d/km, ``shadowing_db`` log-normal shadowing: the Yang et al. instance; scenario_round.py).
Optional in all: ``objective``, ``latency_cap_s``, ``energy_cap_j``, ``budget`` (total_cost, beta_tau),
``tx_power_dbm``, ``noise_psd_dbm_hz``; the round model (round_model.py): ``power_variable`` (tx_power_dbm
becomes the maximum), ``compute_time_s``, ``compute_cycles`` + ``samples`` + ``cpu_hz`` or ``max_cpu_hz``,
``kappa``, ``access`` (fdma | tdma), ``time_weight_j_per_s``, ``latency_cap_x_minmax`` (the cap as a multiple
of the min-max round latency at full power).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wirelora.allocation.allocator import allocate
from wirelora.allocation.baselines import equal_split
from wirelora.allocation.problem import OBJECTIVES, Allocation, AllocationProblem, Budget, evaluate
from wirelora.allocation.scenario_arrays import Problem
from wirelora.allocation.scenario_round import check_round_fields, has_round, solve_round_scenario
from wirelora.config import (
    ConfigError,
    check_choice,
    check_positive,
    check_probability,
    from_dict,
    load_mapping,
    require,
)
from wirelora.units import db_to_lin, dbm_to_w
from wirelora.wireless.config import WirelessConfig

__all__ = [
    "random_instance",
    "LinkSpec",
    "GroupSpec",
    "BudgetSpec",
    "Scenario",
    "Problem",
    "EXAMPLES_DIR",
    "bundled_examples",
    "load_scenario",
    "build_problem",
    "solve_scenario",
]

EXAMPLES_DIR = Path(__file__).with_name("examples")
MAX_DEVICES = 4096  # generated scenarios: [M, M] float64 gains, graphs and SNRs, about 0.5 GiB at 4096


def _gib(num_devices: int) -> float:
    return 4 * 8 * num_devices**2 / 2**30  # a few [M, M] float64 arrays live at once


DEFAULT_EXAMPLE = "example"


def _finite(field: str, value: Any) -> None:
    require(
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value),
        field,
        value,
        "must be a finite number",
    )


@dataclass(frozen=True)
class LinkSpec:
    """One (group, link) entry of an explicit scenario: link_snr_hz, or gain_db (+ tx_power_dbm)."""

    payload_bits: float
    link_snr_hz: float | None = None
    gain_db: float | None = None
    tx_power_dbm: float | None = None
    group: str | int = 0
    weight: float = 1.0
    name: str | None = None
    compute_time_s: float | None = None
    samples: float | None = None

    def __post_init__(self):
        check_positive("payload_bits", self.payload_bits)
        ok = isinstance(self.group, str | int) and not isinstance(self.group, bool)
        require(ok, "group", self.group, "must be a group name or number")
        if self.compute_time_s is not None:
            _finite("compute_time_s", self.compute_time_s)
            require(self.compute_time_s >= 0, "compute_time_s", self.compute_time_s, "must be >= 0")
        if self.samples is not None:
            check_positive("samples", self.samples)
        require(
            (self.link_snr_hz is None) != (self.gain_db is None),
            "link_snr_hz",
            self.link_snr_hz,
            "give exactly one of link_snr_hz or gain_db",
        )
        if self.link_snr_hz is not None:
            check_positive("link_snr_hz", self.link_snr_hz)
        if self.gain_db is not None:
            _finite("gain_db", self.gain_db)
        if self.tx_power_dbm is not None:
            _finite("tx_power_dbm", self.tx_power_dbm)
        check_positive("weight", self.weight)


@dataclass(frozen=True)
class GroupSpec:
    """A layer group of a generated scenario: payload per link, priority, optionally its own graph density."""

    name: str
    payload_bits: float
    priority: float = 1.0
    density: float | None = None

    def __post_init__(self):
        check_positive("payload_bits", self.payload_bits)
        check_positive("priority", self.priority)
        if self.density is not None:
            check_probability("density", self.density)


@dataclass(frozen=True)
class BudgetSpec:
    total_cost: float
    beta_tau: float

    def __post_init__(self):
        check_positive("total_cost", self.total_cost)
        check_positive("beta_tau", self.beta_tau)


@dataclass(frozen=True)
class Scenario:
    total_bandwidth_hz: float
    objective: str = "minmax"
    links: tuple[LinkSpec, ...] | None = None
    num_devices: int | None = None
    radius_m: float = WirelessConfig.radius_m
    seed: int = 0
    density: float = 0.4
    graph: str = "random"
    groups: tuple[GroupSpec, ...] | None = None
    tx_power_dbm: float = WirelessConfig.tx_power_dbm
    noise_psd_dbm_hz: float = WirelessConfig.noise_psd_dbm_hz
    latency_cap_s: float | None = None
    energy_cap_j: float | None = None
    budget: BudgetSpec | None = None
    description: str = ""
    num_users: int | None = None
    square_m: float = 500.0
    shadowing_db: float = 8.0
    payload_bits: float | None = None
    power_variable: bool = False
    compute_time_s: float | None = None
    compute_cycles: float | None = None
    samples: float | None = None
    cpu_hz: float | None = None
    max_cpu_hz: float | None = None
    kappa: float | None = None
    access: str = "fdma"
    time_weight_j_per_s: float | None = None
    latency_cap_x_minmax: float | None = None

    def __post_init__(self):
        check_positive("total_bandwidth_hz", self.total_bandwidth_hz)
        check_choice("objective", self.objective, OBJECTIVES)
        _finite("tx_power_dbm", self.tx_power_dbm)
        _finite("noise_psd_dbm_hz", self.noise_psd_dbm_hz)
        if self.latency_cap_s is not None:
            check_positive("latency_cap_s", self.latency_cap_s)
        if self.energy_cap_j is not None:
            check_positive("energy_cap_j", self.energy_cap_j)
        if check_round_fields(self):  # an uplink cell: validated there
            return
        explicit, generated = self.links is not None, self.num_devices is not None
        require(
            explicit != generated,
            "links",
            None if self.links is None else f"<{len(self.links)} links>",
            "give either links (explicit) or num_devices and groups (generated), not both",
        )
        if explicit:
            require(len(self.links) > 0, "links", [], "must list at least one link")
        else:
            require(self.num_devices >= 2, "num_devices", self.num_devices, "must be an integer >= 2")
            # the generated graphs and gains are dense [M, M] arrays: refuse before allocating them
            require(
                self.num_devices <= MAX_DEVICES,
                "num_devices",
                self.num_devices,
                f"at most {MAX_DEVICES} (dense [M, M] gains and graphs: {self.num_devices} devices would "
                f"need {_gib(self.num_devices):.0f} GiB; give explicit links for sparse instances)",
            )
            check_positive("radius_m", self.radius_m)
            check_probability("density", self.density)
            check_choice("graph", self.graph, ("random", "channel_aware"))
            require(bool(self.groups), "groups", self.groups, "a generated scenario needs at least one group")
            names = [g.name for g in self.groups]
            twice = [n for n in names if names.count(n) > 1]
            require(not twice, "groups[].name", twice[0] if twice else None, "names a group twice")


def random_instance(num_links: int, *, seed: int, radius_m: float = WirelessConfig.radius_m):
    """A mixed weak/strong instance as real channels give (the benchmark's and the deep-fading tests').

    ``num_links`` links drawn without replacement from all device pairs of a disc of ``radius_m`` (just enough
    devices), 3 layer groups with payloads 4 / 8 / 16 × 1e5 bit × U(0.5, 2) per link. Returns
    ``(payload_bits [3, L], draw)``; each ``draw()`` is a fresh Rayleigh block-fading draw of
    ``link_snr_hz [L]`` on the same links (20 dBm, −174 dBm/Hz), from the same seeded stream.
    """
    from wirelora.network.topology import edge_list
    from wirelora.wireless.channel import link_gain_lin, link_snr_hz, place_devices

    rng = np.random.default_rng(seed)
    m = int(np.ceil((1 + np.sqrt(1 + 8 * num_links)) / 2)) + 1
    pos = place_devices(m, radius_m, rng=rng)
    pairs = edge_list(~np.eye(m, dtype=bool))
    pairs = pairs[rng.choice(len(pairs), num_links, replace=False)]  # [L, 2]
    payload_bits = np.array([4.0, 8.0, 16.0])[:, None] * 1e5 * rng.uniform(0.5, 2.0, (3, num_links))  # [3, L]

    def draw() -> np.ndarray:
        return link_snr_hz(link_gain_lin(pos, rng=rng))[pairs[:, 0], pairs[:, 1]]

    return payload_bits, draw


def bundled_examples() -> list[str]:
    return sorted(p.stem for p in EXAMPLES_DIR.iterdir() if p.suffix in (".yaml", ".yml", ".json"))


def _resolve(scenario: str | Path | None) -> Path:
    if scenario is None:
        scenario = DEFAULT_EXAMPLE
    path = Path(scenario)
    if path.is_file():
        return path
    for suffix in (".yaml", ".yml", ".json"):
        candidate = EXAMPLES_DIR / f"{path.name}{suffix}"
        if path.suffix == "" and candidate.is_file():
            return candidate
    raise ConfigError(
        f"scenario={str(scenario)!r}: no such file or bundled example "
        f"(bundled: {', '.join(bundled_examples())})"
    )


def load_scenario(scenario: str | Path | None) -> Scenario:
    """A scenario from a path, a bundled example's name, or None (the bundled default)."""
    raw = load_mapping(_resolve(scenario))
    links = raw.get("links")
    if links is not None:
        if not isinstance(links, list):
            raise ConfigError(f"links={links!r}: must be a list of links")
        # validate each link here so that errors carry its index (links[2].payload_bits=...)
        parsed = []
        for i, item in enumerate(links):
            try:
                parsed.append(from_dict(LinkSpec, item, prefix=f"links[{i}]"))
            except ConfigError as exc:
                text = str(exc)
                raise ConfigError(text if text.startswith(f"links[{i}]") else f"links[{i}].{text}") from None
        raw = {**raw, "links": []}
        cfg = _with_links(raw, tuple(parsed))
        return cfg
    groups = raw.get("groups")
    if isinstance(groups, list):
        for i, item in enumerate(groups):
            try:
                from_dict(GroupSpec, item, prefix=f"groups[{i}]")
            except ConfigError as exc:
                text = str(exc)
                raise ConfigError(
                    text if text.startswith(f"groups[{i}]") else f"groups[{i}].{text}"
                ) from None
    return from_dict(Scenario, raw)


def _with_links(raw: dict, links: tuple[LinkSpec, ...]) -> Scenario:
    if not links:
        raise ConfigError("links=[]: must list at least one link")
    base = from_dict(Scenario, {**raw, "links": [{"payload_bits": 1.0, "link_snr_hz": 1.0}]})
    import dataclasses

    return dataclasses.replace(base, links=links)


def build_problem(cfg: Scenario) -> Problem:
    """Arrays for ``allocate`` from a scenario (draws the channel for generated scenarios, seeded)."""
    noise_w_hz = dbm_to_w(cfg.noise_psd_dbm_hz)
    if cfg.links is not None:
        q = np.array([lk.payload_bits for lk in cfg.links], dtype=float)  # [E]
        p_w = np.array(
            [dbm_to_w(cfg.tx_power_dbm if lk.tx_power_dbm is None else lk.tx_power_dbm) for lk in cfg.links]
        )
        a = np.array(
            [
                lk.link_snr_hz if lk.link_snr_hz is not None else p * db_to_lin(lk.gain_db) / noise_w_hz
                for lk, p in zip(cfg.links, p_w)
            ],
            dtype=float,
        )
        groups = [str(lk.group) for lk in cfg.links]
        names = [lk.name or f"link {i}" for i, lk in enumerate(cfg.links)]
        w = np.array([lk.weight for lk in cfg.links], dtype=float)
        per_link = {}
        for field, default in (("compute_time_s", cfg.compute_time_s), ("samples", cfg.samples)):
            if any(getattr(lk, field) is not None for lk in cfg.links):
                per_link[field] = np.array(
                    [default if getattr(lk, field) is None else getattr(lk, field) for lk in cfg.links],
                    dtype=float,
                )
        return Problem(q, a, float(cfg.total_bandwidth_hz), w, p_w, groups, names, **per_link)
    if cfg.num_users is not None:
        from wirelora.allocation.scenario_round import uplink_problem

        return uplink_problem(cfg)

    from wirelora.network.topology import channel_aware_graph, edge_list, random_connected_graph
    from wirelora.wireless.channel import link_gain_lin, link_snr_hz, place_devices

    rng = np.random.default_rng(cfg.seed)
    pos = place_devices(cfg.num_devices, cfg.radius_m, rng=rng)
    gain = link_gain_lin(pos, rng=rng)
    snr = link_snr_hz(gain, cfg.tx_power_dbm, cfg.noise_psd_dbm_hz)  # [M, M]
    adjs = []
    for g in cfg.groups:
        density = cfg.density if g.density is None else g.density
        if cfg.graph == "channel_aware":
            adjs.append(channel_aware_graph(gain, density))
        else:
            adjs.append(random_connected_graph(cfg.num_devices, density, rng=rng))
    union = np.any(adjs, axis=0)
    edges = edge_list(union)  # [L, 2]
    q = np.stack(
        [np.where(adj[edges[:, 0], edges[:, 1]], g.payload_bits, 0.0) for g, adj in zip(cfg.groups, adjs)]
    )
    a = snr[edges[:, 0], edges[:, 1]]  # [L]
    w = np.array([g.priority for g in cfg.groups], dtype=float)[:, None] * np.ones_like(q)
    p_w = np.full(q.shape, float(dbm_to_w(cfg.tx_power_dbm)))
    return Problem(
        q,
        a,
        float(cfg.total_bandwidth_hz),
        w,
        p_w,
        [g.name for g in cfg.groups],
        [f"{i}-{j}" for i, j in edges],
    )


def solve_scenario(cfg: Scenario, objective: str | None = None) -> tuple[Problem, Allocation, Allocation]:
    """Solve a scenario: (problem, optimal allocation, the equal split evaluated the same way)."""
    objective = cfg.objective if objective is None else objective
    check_choice("objective", objective, OBJECTIVES)
    prob = build_problem(cfg)
    if has_round(cfg, objective):
        return prob, *solve_round_scenario(cfg, prob, objective)
    budget = None if cfg.budget is None else Budget(cfg.budget.total_cost, cfg.budget.beta_tau)
    kwargs = {
        "objective": objective,
        "weights": prob.weights if objective == "weighted" else None,
        "latency_cap_s": cfg.latency_cap_s,
        "energy_cap_j": cfg.energy_cap_j,
        "tx_power_w": prob.tx_power_w,
        "budget": budget,
    }
    alloc = allocate(prob.payload_bits, prob.link_snr_hz, prob.total_bandwidth_hz, **kwargs)
    req = AllocationProblem.build(
        prob.payload_bits,
        prob.link_snr_hz,
        prob.total_bandwidth_hz,
        objective=objective,
        weights=kwargs["weights"],
        tx_power_w=prob.tx_power_w,
        budget=budget,
    )
    equal = evaluate(
        equal_split(prob.payload_bits, prob.total_bandwidth_hz), req, method="equal split", solve_time_s=0.0
    )
    return prob, alloc, equal
