"""The allocation problem: validated inputs (``AllocationProblem``), ``Budget``, the result ``Allocation``,
the closed-form feasibility check and the evaluation of a bandwidth array (docs: docs/method.md §7)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from wirelora.allocation import closed_form as cf
from wirelora.allocation.round_model import (
    RoundInputs,
    RoundModel,
    broadcast_entries,
    build_round_model,
    check_round_range,
)
from wirelora.errors import InfeasibleError
from wirelora.wireless.rates import shannon_rate_bps

__all__ = ["OBJECTIVES", "Allocation", "AllocationProblem", "Budget", "check_feasible", "evaluate"]

OBJECTIVES = ("minmax", "weighted", "energy", "energy_time")


@dataclass(frozen=True)
class Budget:
    """The per-round budget C_t over the paper's edge cost c = payload + beta_tau * latency (eq. 8, 12a).

    total_cost : C_t (in payload units, bits); beta_tau : cost per second of latency (bits/s).
    """

    total_cost: float
    beta_tau: float

    def __post_init__(self):
        for name in ("total_cost", "beta_tau"):
            v = getattr(self, name)
            if (
                isinstance(v, bool)
                or not isinstance(v, int | float | np.floating)
                or not np.isfinite(v)
                or v <= 0
            ):
                raise ValueError(f"budget.{name}={v!r}: must be a finite number > 0")

    @classmethod
    def coerce(cls, value) -> Budget | None:
        """None, a Budget, a (total_cost, beta_tau) pair or a mapping with those keys."""
        if value is None or isinstance(value, Budget):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"total_cost", "beta_tau"}
            if unknown or len(value) != 2:
                raise ValueError(f"budget={dict(value)!r}: needs exactly the keys total_cost and beta_tau")
            return cls(value["total_cost"], value["beta_tau"])
        try:
            total_cost, beta_tau = value
        except (TypeError, ValueError):
            raise ValueError(
                f"budget={value!r}: must be a Budget, (total_cost, beta_tau) or a mapping"
            ) from None
        return cls(total_cost, beta_tau)


@dataclass(frozen=True)
class Allocation:
    """An allocation. Arrays have the payload's shape ([num_links] or [num_groups, num_links]).

    bandwidth_hz, rate_bps, link_latency_s (0 where the payload is 0); round_latency_s : the slowest link;
    energy_j : p * latency (None without tx_power_w); edge_cost : eq. 8 per entry (None without a budget);
    objective_value : the objective in seconds (minmax, weighted) or joules (energy); method : "reference"
    (closed form) or "cvxpy"; solve_time_s : wall time of the solve.
    """

    bandwidth_hz: np.ndarray
    rate_bps: np.ndarray
    link_latency_s: np.ndarray
    round_latency_s: float
    energy_j: np.ndarray | None
    edge_cost: np.ndarray | None
    objective: str
    objective_value: float
    total_bandwidth_hz: float
    status: str = "optimal"
    method: str = "cvxpy"
    solve_time_s: float = 0.0
    # the round model (round_model.py); None where absent. bandwidth_hz under TDMA is the whole band.
    tx_power_w: np.ndarray | None = None
    cpu_hz: np.ndarray | None = None
    compute_time_s: np.ndarray | None = None
    compute_energy_j: np.ndarray | None = None
    time_share: np.ndarray | None = None
    access: str = "fdma"


@dataclass(frozen=True)
class AllocationProblem:
    """One validated allocation problem, arrays broadcast to the payload's shape: the input of every solver.

    q : payload_bits; a : link_snr_hz; total : total_bandwidth_hz; used : q > 0; w : weights ("weighted"
    only); cap : latency_cap_s (on computation + upload); energy_cap : energy_cap_j; p : tx_power_w; budget :
    a Budget; round : the power / computation / access model (round_model.py). None = absent.
    Build it with ``AllocationProblem.build`` (validates, names the bad field).
    """

    objective: str
    q: np.ndarray
    a: np.ndarray
    total: float
    used: np.ndarray
    w: np.ndarray | None
    cap: np.ndarray | None
    energy_cap: float | None
    p: np.ndarray | None
    budget: Budget | None
    round: RoundModel | None = None

    @classmethod
    def build(
        cls,
        payload_bits,
        link_snr_hz,
        total_bandwidth_hz,
        *,
        objective: str = "minmax",
        weights=None,
        latency_cap_s=None,
        energy_cap_j=None,
        tx_power_w=None,
        budget=None,
        round_inputs: RoundInputs | None = None,
    ) -> AllocationProblem:
        """Validate and broadcast the inputs of ``allocate`` (round_inputs: the round model's inputs,
        round_model.py); ValueError names the first bad field."""
        if objective not in OBJECTIVES:
            raise ValueError(f"objective={objective!r}: must be one of {', '.join(OBJECTIVES)}")
        q, a, total = cf.prepare(payload_bits, link_snr_hz, total_bandwidth_hz)
        _check_range(q, a, total)
        w = None
        if objective == "weighted":
            if weights is None:
                raise ValueError(
                    "weights=None: objective='weighted' needs weights (one per group or per link)"
                )
            w = cf.broadcast_weights(weights, q)
        cap = broadcast_entries("latency_cap_s", latency_cap_s, q, number="a number > 0")
        energy_cap = None if energy_cap_j is None else cf._scalar("energy_cap_j", energy_cap_j)
        p = broadcast_entries("tx_power_w", tx_power_w, q, number="a number > 0")
        rm = None
        if round_inputs is not None and round_inputs.extended(objective):
            rm = build_round_model(q, objective, round_inputs, tx_power_w)
            _check_round(objective, rm, q, p, cap, energy_cap, budget)
            check_round_range(q, a, total, cap, rm)
        elif p is None and (objective == "energy" or energy_cap is not None):
            raise ValueError("tx_power_w=None: the energy objective and energy_cap_j need the transmit power")
        return cls(objective, q, a, total, q > 0, w, cap, energy_cap, p, Budget.coerce(budget), rm)

    @property
    def flags(self) -> tuple[bool, bool, bool]:
        """Which optional constraints are present: (latency cap, energy cap, budget)."""
        return (self.cap is not None, self.energy_cap is not None, self.budget is not None)

    def weights_for(self, objective: str) -> np.ndarray:
        return self.p if objective == "energy" else self.w


def _check_round(objective, rm: RoundModel, q, p, cap, energy_cap, budget) -> None:
    """The combinations the round model supports (ValueError naming the field otherwise)."""
    if energy_cap is not None or budget is not None:
        field = "energy_cap_j" if energy_cap is not None else "budget"
        raise ValueError(
            f"{field}: not supported with transmit power or CPU frequency as variables, computation or TDMA"
        )
    if objective in ("energy", "energy_time") and p is None and rm.pmax is None:
        raise ValueError(f"tx_power_w=None: objective={objective!r} needs tx_power_w or max_tx_power_w")
    variable = rm.pmax is not None or (rm.cpu_variable and rm.kappa is not None)
    if objective == "energy" and variable and cap is None:
        raise ValueError(
            "latency_cap_s=None: with power or CPU frequency as variables the energy falls without bound as "
            "the round slows; give latency_cap_s (or use objective='energy_time')"
        )
    if cap is not None:
        slack = cap - rm.offsets(q)
        bad = (q > 0) & ~(slack > 0)
        if np.any(bad):
            i = tuple(np.argwhere(bad)[0])
            raise ValueError(
                f"latency_cap_s{_where(i)}={float(cap[i])!r}: not above the computation time "
                f"{float(rm.offsets(q)[i])!r} s"
            )


# The solvers form q / a, a / b and their logarithms; outside these bounds double precision overflows or
# loses every digit (OverflowError, nan bandwidths, an infinite latency reported as optimal).
_RATIO_MAX = 1e100  # payload_bits / link_snr_hz (the latency floor in s, up to ln 2)
_TOTAL_OVER_SNR_MAX = 1e15  # total_bandwidth_hz / link_snr_hz: beyond it every rate is at its ceiling


def _check_range(q: np.ndarray, a: np.ndarray, total: float) -> None:
    """ValueError naming the field when the inputs lie outside what double precision represents here."""
    used = q > 0
    tiny = np.finfo(float).tiny
    for field, x in (("payload_bits", q), ("link_snr_hz", a)):
        bad = used & (x < tiny)
        if np.any(bad):
            i = tuple(np.argwhere(bad)[0])
            raise ValueError(
                f"{field}{_where(i)}={float(x[i])!r}: subnormal (below {tiny:g}): not representable"
            )
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        ratio = np.where(used, q / a, 1.0)
    bad = used & ~((ratio <= _RATIO_MAX) & (ratio >= 1.0 / _RATIO_MAX))
    if np.any(bad):
        i = tuple(np.argwhere(bad)[0])
        # name the factor further from 1 (in decades): the one out of range
        field = "payload_bits" if abs(np.log10(q[i])) >= abs(np.log10(a[i])) else "link_snr_hz"
        raise ValueError(
            f"{field}{_where(i)}: payload_bits / link_snr_hz = {float(q[i])!r} / {float(a[i])!r} is outside "
            f"[{1 / _RATIO_MAX:g}, {_RATIO_MAX:g}], beyond what double precision resolves"
        )
    a_min = float(np.min(a[used]))
    if total > _TOTAL_OVER_SNR_MAX * a_min:
        raise ValueError(
            f"total_bandwidth_hz={total!r}: over {_TOTAL_OVER_SNR_MAX:g} times the weakest link_snr_hz "
            f"({a_min!r}); every rate is at its ceiling a/ln2 to double precision"
        )


def _where(index) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def check_feasible(req: AllocationProblem) -> None:
    """Closed-form infeasibility checks; raise InfeasibleError naming the link or the constraint."""
    q, a, used = req.q, req.a, req.used
    if req.cap is not None:
        need_rate = np.where(used, q / req.cap, 0.0)
        ceiling = cf.rate_ceiling_bps(a)
        bad = used & (need_rate >= ceiling)
        if np.any(bad):
            i = tuple(np.argwhere(bad)[0])
            raise InfeasibleError(
                f"latency_cap_s={float(req.cap[i]):g}: link {_where(i)} needs "
                f"{float(need_rate[i]):.6g} bit/s "
                f"but "
                f"its rate ceiling a/ln2 with all the bandwidth is {float(ceiling[i]):.6g} bit/s"
            )
        b_min = np.where(used, cf.min_bandwidth_hz(need_rate, a), 0.0)
        if np.sum(b_min) > req.total:
            raise InfeasibleError(
                f"latency_cap_s={float(np.min(req.cap[used])):g}: meeting every cap needs "
                f"{float(np.sum(b_min)):.6g} Hz "
                f"> total_bandwidth_hz={req.total:g}"
            )
    if req.budget is not None:
        payload_sum = float(np.sum(q))
        if req.budget.total_cost <= payload_sum:
            raise InfeasibleError(
                f"budget.total_cost={req.budget.total_cost:g}: not above the payload sum "
                f"{payload_sum:g} bits "
                f"(the cost of any allocation exceeds it)"
            )
        least_latency_sum, _ = cf.weighted_latency(q, a, req.total, np.ones_like(q), latency_cap_s=req.cap)
        least_cost = payload_sum + req.budget.beta_tau * least_latency_sum
        if least_cost > req.budget.total_cost * (1 + 1e-9):
            raise InfeasibleError(
                f"budget.total_cost={req.budget.total_cost:g}: the least edge cost any allocation reaches is "
                f"{least_cost:.6g}"
            )
    if req.energy_cap is not None:
        least_energy, _ = cf.weighted_latency(q, a, req.total, req.p, latency_cap_s=req.cap)
        if least_energy > req.energy_cap * (1 + 1e-9):
            raise InfeasibleError(
                f"energy_cap_j={req.energy_cap:g}: the least energy any allocation reaches is "
                f"{least_energy:.6g} J"
            )


def evaluate(bandwidth_hz, req: AllocationProblem, *, method: str, solve_time_s: float) -> Allocation:
    """Build an Allocation from a bandwidth array, computing rates and latencies exactly from b."""
    b = np.where(req.used, np.maximum(np.asarray(bandwidth_hz, dtype=float), 0.0), 0.0)
    rate = np.where(req.used, shannon_rate_bps(b, req.a), 0.0)
    lat = np.where(req.used, np.where(rate > 0, req.q / np.where(rate > 0, rate, 1.0), np.inf), 0.0)
    energy = None if req.p is None else req.p * lat
    cost = None if req.budget is None else np.where(req.used, req.q + req.budget.beta_tau * lat, 0.0)
    if req.objective == "minmax":
        value = float(np.max(lat))
    elif req.objective == "weighted":
        value = float(np.sum(req.w * lat))
    else:
        value = float(np.sum(energy))
    return Allocation(
        bandwidth_hz=b,
        rate_bps=rate,
        link_latency_s=lat,
        round_latency_s=float(np.max(lat)),
        energy_j=energy,
        edge_cost=cost,
        objective=req.objective,
        objective_value=value,
        total_bandwidth_hz=req.total,
        method=method,
        solve_time_s=solve_time_s,
    )
