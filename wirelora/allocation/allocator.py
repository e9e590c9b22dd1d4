"""The per-layer-group bandwidth allocator (METHOD.md §7): ``allocate`` and the cvxpy ``BandwidthAllocator``.

Variables b_{g,e} >= 0 (Hz) for group g on link e, rate R = b log2(1 + a / b) = -rel_entr(b, b + a) / ln 2.
Objectives: ``minmax`` (the slowest link), ``weighted`` (sum w * latency), ``energy`` (sum p * latency).
Constraints: total bandwidth; optional per-link latency cap (eq. 12b), per-round edge-cost budget
(eq. 8, 12a), energy cap.

``allocate`` uses the closed form of reference.py wherever one exists (every objective with at most one of
budget and energy cap: exact, and robust on any instance) and the cvxpy problem otherwise or on request.

Why the cvxpy problem is written the way it is:
- Mixed weak and strong links (link_snr_hz from 1e4 to 1e12 Hz in one instance) break Clarabel in any fixed
  units. Each link is therefore scaled by its own bandwidth s_e in a feasible allocation near the optimum (the
  closed form of the same objective without budget or energy cap): b_e = s_e z_e, so that z_e = 1 is feasible,
  and time is measured in units of that allocation's round latency T_ref. By homogeneity,
  b ln(1 + a/b) = s z ln(1 + (a/s)/z) = -s rel_entr(z, z + a/s).
- Each link's rate is also scaled to 1 at z = 1, and a strong link's is split as
  z ln alpha + z ln((1 + z/alpha) / z), so that the exponential cones see O(1) numbers (see _Program).
- Only the used entries are variables; an epigraph rate variable appears only where a latency enters a sum;
  parameters never multiply parameter-dependent expressions: the problem is DPP (built once per number of used
  entries, re-solved by setting parameter values).
- Nearly saturated links (SNR over the scale band a_e / s_e < 0.05: the rate is within a fraction a/(2s) of
  its ceiling a/ln2 and barely moves with bandwidth) put their exponential cone next to the cone's ray
  (w / y = 1 + a/s), where the rate is the difference of two O(1) cone coordinates; no rescaling changes that
  ratio, and a min-max problem with such a bottleneck stalled Clarabel short of optimal under every setting
  (a single such link with a few hundred others solves; with thousands it does not). On the plain min-max
  problem (no cap, budget or energy cap), where the scale allocation is the closed-form optimum, such links
  are therefore left out of the cone program at their scale band: they enter only through the band they
  take and the bound sigma <= T_ref / latency_e. One problem is kept per (number of solved entries, whether
  any link is left out).
- Only status ``optimal`` is accepted. When Clarabel stalls short of it, other interior-point settings are
  tried (same tolerances); if none reaches optimal, SolverError names the status. Known limit: with a latency
  cap, budget or energy cap, a nearly saturated bottleneck stays in the cone program and may end there;
  ``allocate`` solves such instances by the closed form (except with both a budget and an energy cap).
- Infeasibility that can be decided in closed form (a link that cannot meet its cap even with all the
  bandwidth, caps that need more than the total, a budget or an energy cap below the least any allocation
  reaches) is raised as InfeasibleError before any solve, naming the link or the constraint.
"""

from __future__ import annotations

import time
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from wirelora.allocation import reference as ref
from wirelora.errors import InfeasibleError, SolverError
from wirelora.wireless.rates import shannon_rate_bps

__all__ = [
    "OBJECTIVES",
    "Allocation",
    "Budget",
    "BandwidthAllocator",
    "allocate",
    "check_feasible",
    "evaluate",
]

OBJECTIVES = ("minmax", "weighted", "energy")
_LN2 = np.log(2.0)


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


class _Request:
    """Validated, broadcast inputs of one allocation problem (shared by the closed form and cvxpy paths)."""

    def __init__(
        self,
        payload_bits,
        link_snr_hz,
        total_bandwidth_hz,
        objective,
        weights,
        latency_cap_s,
        energy_cap_j,
        tx_power_w,
        budget,
    ):
        if objective not in OBJECTIVES:
            raise ValueError(f"objective={objective!r}: must be one of {', '.join(OBJECTIVES)}")
        self.objective = objective
        self.q, self.a, self.total = ref.prepare(payload_bits, link_snr_hz, total_bandwidth_hz)
        self.used = self.q > 0
        if objective == "weighted":
            if weights is None:
                raise ValueError(
                    "weights=None: objective='weighted' needs weights (one per group or per link)"
                )
            self.w = ref.broadcast_weights(weights, self.q)
        else:
            self.w = None
        self.cap = _optional_positive("latency_cap_s", latency_cap_s, self.q)
        self.energy_cap = None
        if energy_cap_j is not None:
            self.energy_cap = ref._scalar("energy_cap_j", energy_cap_j)
        self.p = _optional_positive("tx_power_w", tx_power_w, self.q)
        if self.p is None and (objective == "energy" or self.energy_cap is not None):
            raise ValueError("tx_power_w=None: the energy objective and energy_cap_j need the transmit power")
        self.budget = Budget.coerce(budget)

    def weights_for(self, objective: str) -> np.ndarray:
        return self.p if objective == "energy" else self.w


def _optional_positive(field, value, q):
    if value is None:
        return None
    try:
        x = np.broadcast_to(np.asarray(value, dtype=float), q.shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"{field}={value!r}: must be a number > 0 or an array broadcastable to the payload {q.shape}"
        ) from None
    ref._check_array(field, np.where(q > 0, x, 1.0), allow_zero=False)
    return np.array(x)


def _where(index) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def check_feasible(req: _Request) -> None:
    """Closed-form infeasibility checks; raise InfeasibleError naming the link or the constraint."""
    q, a, used = req.q, req.a, req.used
    if req.cap is not None:
        need_rate = np.where(used, q / req.cap, 0.0)
        ceiling = ref.rate_ceiling_bps(a)
        bad = used & (need_rate >= ceiling)
        if np.any(bad):
            i = tuple(np.argwhere(bad)[0])
            raise InfeasibleError(
                f"latency_cap_s={float(req.cap[i]):g}: link {_where(i)} needs "
                f"{float(need_rate[i]):.6g} bit/s "
                f"but "
                f"its rate ceiling a/ln2 with all the bandwidth is {float(ceiling[i]):.6g} bit/s"
            )
        b_min = np.where(used, ref.min_bandwidth_hz(need_rate, a), 0.0)
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
        least_latency_sum, _ = ref.weighted_latency(q, a, req.total, np.ones_like(q), latency_cap_s=req.cap)
        least_cost = payload_sum + req.budget.beta_tau * least_latency_sum
        if least_cost > req.budget.total_cost * (1 + 1e-9):
            raise InfeasibleError(
                f"budget.total_cost={req.budget.total_cost:g}: the least edge cost any allocation reaches is "
                f"{least_cost:.6g}"
            )
    if req.energy_cap is not None:
        least_energy, _ = ref.weighted_latency(q, a, req.total, req.p, latency_cap_s=req.cap)
        if least_energy > req.energy_cap * (1 + 1e-9):
            raise InfeasibleError(
                f"energy_cap_j={req.energy_cap:g}: the least energy any allocation reaches is "
                f"{least_energy:.6g} J"
            )


def evaluate(bandwidth_hz, req: _Request, *, method: str, solve_time_s: float) -> Allocation:
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


class _Program:
    """The DPP problem over n used entries (the unused ones are left out, not masked: a masked entry leaves a
    free direction that stalls Clarabel)."""

    def __init__(self, n: int, objective: str, flags: tuple[bool, bool, bool], pinned: bool = False):
        import cvxpy as cp

        latency_cap, energy_cap, budget = flags
        self.z = cp.Variable(n, nonneg=True)  # bandwidth / s_e
        self.bw = cp.Parameter(n, nonneg=True)  # s_e / B
        # The rate constraint, scaled per link. With alpha = a_e / s_e, the rate at z = 1 is ln(1 + alpha)
        # nats/s per s_e, and lam = 1 / ln(1 + alpha) makes every scaled rate 1 there:
        #   lam z ln(1 + alpha/z) = L~ z - rel_entr(lam z, c1~ + c2~ z)   (rel_entr is positively homogeneous)
        #   alpha < 1:  L~ = 0,            c1~ = lam alpha, c2~ = lam          (lam z ln((z + alpha) / z))
        #   alpha >= 1: L~ = lam ln alpha, c1~ = lam,       c2~ = lam / alpha  (+ lam z ln((1 + z/alpha) / z))
        # so the cone sees O(1) numbers however strong the link (alpha reaches 1e8 at the optimum).
        self.lam = cp.Parameter(n, nonneg=True)
        self.log_alpha = cp.Parameter(n, nonneg=True)
        self.c1 = cp.Parameter(n, nonneg=True)
        self.c2 = cp.Parameter(n, nonneg=True)
        self.k = cp.Parameter(n, nonneg=True)  # latency_e / T_ref = k_e / rate_e
        rate = cp.multiply(self.log_alpha, self.z) - cp.rel_entr(
            cp.multiply(self.lam, self.z), self.c1 + cp.multiply(self.c2, self.z)
        )  # scaled rate, concave in z; 1 at the scale allocation (z = 1)
        if pinned:  # near-saturated links are left out at their scale band (see BandwidthAllocator._solve)
            self.room = cp.Parameter(nonneg=True)  # the band share the left-out links do not use
            self.sigma_cap = cp.Parameter(nonneg=True)  # their rate bound: sigma <= min 1 / k_e
            cons = [self.bw @ self.z <= self.room]
        else:
            cons = [self.bw @ self.z <= 1.0]
        # An epigraph variable r <= rate is needed only where a latency k / rate enters a sum (inv_pos of an
        # expression holding parameters is not DPP). Where it is not needed it is left out: on min-max
        # problems with thousands of links the free direction between r and rate stalls Clarabel.
        if objective != "minmax" or energy_cap or budget:
            # t_e >= 1 / r_e, r_e <= rate_e: one cone per link, shared by the objective and the sums below
            self.r = cp.Variable(n)
            inv_r = cp.Variable(n)
            cons += [self.r <= rate, cp.inv_pos(self.r) <= inv_r]
        if objective == "minmax":
            self.sigma = cp.Variable()  # T_ref / T
            cons.append(rate >= cp.multiply(self.k, self.sigma))
            if pinned:
                cons.append(self.sigma <= self.sigma_cap)
            obj = cp.Maximize(self.sigma)
        else:
            self.c = cp.Parameter(n, nonneg=True)  # objective weights, normalised to sum 1
            obj = cp.Minimize(self.c @ inv_r)
        if latency_cap:
            self.rmin = cp.Parameter(n, nonneg=True)  # rate_e >= k_e T_ref / cap_e
            cons.append(rate >= self.rmin)
        if energy_cap:
            self.e = cp.Parameter(n, nonneg=True)  # p_e k_e T_ref / E_cap
            cons.append(self.e @ inv_r <= 1.0)
        if budget:
            self.g = cp.Parameter(n, nonneg=True)  # beta k_e T_ref / (C - sum q)
            cons.append(self.g @ inv_r <= 1.0)
        self.problem = cp.Problem(obj, cons)
        if not self.problem.is_dpp():  # pragma: no cover - a construction bug, not an input error
            raise AssertionError("the allocation problem is not DPP")


class BandwidthAllocator:
    """The DPP problem for one payload shape and one set of constraints, built once and re-solved.

    shape : the payload's shape ([L] or [G, L]). objective : minmax | weighted | energy. The constraint
    flags say which optional constraints the problem has (their values come with each ``solve``).
    solver_opts are passed to the solver (e.g. {"max_iter": 400}). One problem is compiled per number of used
    entries (payload > 0) and kept: repeated calls with the same pattern only set parameter values.

        solver = BandwidthAllocator((3, 12), objective="weighted", latency_cap=True)
        alloc = solver.solve(payload_bits, link_snr_hz, 20e6, weights=p_g, latency_cap_s=0.5)
    """

    def __init__(
        self,
        shape,
        objective: str = "minmax",
        *,
        latency_cap: bool = False,
        energy_cap: bool = False,
        budget: bool = False,
        solver: str = "CLARABEL",
        solver_opts: Mapping | None = None,
    ):
        shape = tuple(int(s) for s in np.atleast_1d(shape))
        if len(shape) not in (1, 2) or min(shape) < 1:
            raise ValueError(f"shape={shape!r}: must be (num_links,) or (num_groups, num_links), all >= 1")
        if objective not in OBJECTIVES:
            raise ValueError(f"objective={objective!r}: must be one of {', '.join(OBJECTIVES)}")
        self.shape, self.objective, self.solver = shape, objective, solver
        self.solver_opts = dict(solver_opts or {})
        self.flags = (bool(latency_cap), bool(energy_cap), bool(budget))
        self._programs: dict[tuple[int, bool], _Program] = {}
        self.last_attempts = 0  # Clarabel settings the last solve needed (see _CLARABEL_RETRIES)
        # build the all-entries-used problem now, so that construction errors surface here
        self.problem = self._program(int(np.prod(shape))).problem

    def _run(self, problem) -> str:
        """Solve; if the status is not optimal, retry with other interior-point settings (same problem, same
        tolerances) and return the first optimal status, else the last status."""
        import cvxpy as cp

        attempts = [self.solver_opts] if self.solver_opts else [{**o} for o in _CLARABEL_RETRIES]
        status = "not solved"
        for count, opts in enumerate(attempts, start=1):
            self.last_attempts = count
            try:
                # cvxpy warns on inaccurate solutions; the status check below decides
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    problem.solve(solver=self.solver, **opts)
                status = problem.status
            except cp.error.SolverError:  # Clarabel gave up (numerical trouble): cvxpy raises, no status
                status = "solver_error"
            if status in (cp.OPTIMAL, cp.INFEASIBLE):
                break
        return status

    def _program(self, n: int, pinned: bool = False) -> _Program:
        prog = self._programs.get((n, pinned))
        if prog is None:
            prog = self._programs[(n, pinned)] = _Program(n, self.objective, self.flags, pinned)
        return prog

    def solve(
        self,
        payload_bits,
        link_snr_hz,
        total_bandwidth_hz,
        *,
        weights=None,
        latency_cap_s=None,
        energy_cap_j=None,
        tx_power_w=None,
        budget=None,
    ) -> Allocation:
        """Set the parameters and solve. Arrays as in ``allocate``; returns an Allocation (status optimal)."""
        req = _Request(
            payload_bits,
            link_snr_hz,
            total_bandwidth_hz,
            self.objective,
            weights,
            latency_cap_s,
            energy_cap_j,
            tx_power_w,
            budget,
        )
        return self._solve(req)

    def _solve(self, req: _Request) -> Allocation:
        import cvxpy as cp

        if req.q.shape != self.shape:
            raise ValueError(f"payload_bits: shape {req.q.shape} does not match the allocator's {self.shape}")
        flags = (req.cap is not None, req.energy_cap is not None, req.budget is not None)
        if flags != self.flags:
            names = ("latency_cap_s", "energy_cap_j", "budget")
            bad = next(n for n, f, s in zip(names, flags, self.flags) if f != s)
            built = "with" if self.flags[names.index(bad)] else "without"
            raise ValueError(f"{bad}: this allocator was built {built} that constraint")
        t0 = time.perf_counter()
        check_feasible(req)
        used = req.used
        s_all = _scale_allocation(req)  # the per-link scales (Hz): a feasible allocation near the optimum
        # Near-saturated links of a plain min-max problem (a / s < _PIN_SNR) are left out at their scale band
        # (the closed-form optimum) and enter only through the band they use and the bound sigma <= 1 / k_e.
        pin = np.zeros_like(used)
        if self.objective == "minmax" and not any(self.flags):
            pin = used & (req.a < _PIN_SNR * s_all)
            if np.all(pin[used]):  # nothing would be left to solve
                pin[:] = False
        free = used & ~pin
        q, a, s = req.q[free], req.a[free], s_all[free]  # [n]
        prog = self._program(int(q.size), bool(np.any(pin)))
        alpha = a / s
        strong = alpha >= 1.0
        lam = 1.0 / np.log1p(alpha)
        prog.lam.value = lam
        prog.log_alpha.value = np.where(strong, lam * np.log(alpha), 0.0)
        prog.c1.value = np.where(strong, lam, lam * alpha)
        prog.c2.value = np.where(strong, lam / alpha, lam)
        prog.bw.value = s / req.total
        # latency at the scale allocation, and the time unit: its slowest link
        lat_ref = q * _LN2 / (s * np.log1p(alpha))
        lat_pin = req.q[pin] * _LN2 / (s_all[pin] * np.log1p(req.a[pin] / s_all[pin]))
        t_ref = float(np.max(np.concatenate([lat_ref, lat_pin])))
        k = lat_ref / t_ref
        prog.k.value = k
        if np.any(pin):
            prog.room.value = max(1.0 - float(np.sum(s_all[pin])) / req.total, 0.0)
            prog.sigma_cap.value = t_ref / float(np.max(lat_pin))
        if self.objective != "minmax":
            wk = req.weights_for(self.objective)[free] * k
            prog.c.value = wk / np.sum(wk)
        if self.flags[0]:
            prog.rmin.value = k * t_ref / req.cap[free]
        if self.flags[1]:
            prog.e.value = req.p[free] * k * t_ref / req.energy_cap
        if self.flags[2]:
            spare = req.budget.total_cost - float(np.sum(q))
            prog.g.value = req.budget.beta_tau * k * t_ref / spare
        status = self._run(prog.problem)
        if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            raise InfeasibleError(
                f"the constraints together (latency_cap_s, energy_cap_j, budget) admit no allocation "
                f"(solver status {status})"
            )
        if status != cp.OPTIMAL:
            raise SolverError(
                f"solver status {status!r} after {self.last_attempts} Clarabel setting(s) (only 'optimal' is "
                f"accepted); without both a budget and an energy cap, allocate(method='auto') solves this in "
                f"closed form"
            )
        b = np.zeros_like(req.q)
        b[free] = s * np.maximum(prog.z.value, 0.0)
        b[pin] = s_all[pin]
        return evaluate(b, req, method="cvxpy", solve_time_s=time.perf_counter() - t0)


def _scale_allocation(req: _Request) -> np.ndarray:
    """A feasible allocation near the optimum, in closed form: the per-link units of the cvxpy problem."""
    if req.objective == "minmax":
        return ref.minmax_latency(req.q, req.a, req.total)[1]
    return ref.weighted_latency(
        req.q, req.a, req.total, req.weights_for(req.objective), latency_cap_s=req.cap
    )[1]


# Interior-point settings tried in turn when Clarabel stops short of "optimal" (a stall in its last iterations
# on badly scaled instances; another regularisation or step rule usually gets through). Tolerances are never
# loosened: every attempt must report "optimal".
_CLARABEL_RETRIES = (
    {},
    {"equilibrate_enable": False},
    {"direct_solve_method": "faer"},
    {"max_step_fraction": 0.9},
    {"static_regularization_constant": 1e-7},
)

# Below this SNR over its band (a / s), a link's rate is within a fraction a / (2 s) of its ceiling a / ln 2
# and its exponential cone sits next to the cone's ray (y ln(w / y) with w / y = 1 + a / s): a min-max
# problem with such a bottleneck stalls Clarabel short of "optimal" (the seed-0 1000-link benchmark
# instance: a / s = 3.4e-3).
_PIN_SNR = 0.05

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 32


def _cached_allocator(shape, objective, flags) -> BandwidthAllocator:
    key = (shape, objective, flags)
    solver = _CACHE.get(key)
    if solver is None:
        solver = BandwidthAllocator(
            shape, objective, latency_cap=flags[0], energy_cap=flags[1], budget=flags[2]
        )
        _CACHE[key] = solver
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return solver


def allocate(
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
    method: str = "auto",
) -> Allocation:
    """Allocate the total bandwidth over the links (and layer groups) optimally.

    payload_bits : [L] or [G, L] bits (0 = that group does not use that link: it gets no bandwidth).
    link_snr_hz : p h / N0 in Hz, broadcastable to the payload ([L] for a [G, L] payload).
    total_bandwidth_hz : B_tot (Hz). objective : "minmax" | "weighted" | "energy".
    weights : for "weighted": [G] (one per group), or broadcastable to the payload; > 0 on used entries.
    latency_cap_s : tau_max, scalar or broadcastable (eq. 12b). energy_cap_j : cap on sum p * latency (J).
    tx_power_w : transmit power (W), scalar or broadcastable; needed for "energy" and energy_cap_j.
    budget : Budget(total_cost, beta_tau), a pair or a mapping:
    sum(payload + beta_tau * latency) <= total_cost.
    method : "auto" (the closed form, reference.py, wherever it exists: every objective with at most one of
    budget and energy cap; cvxpy otherwise), "cvxpy" or "reference".

    Raises ValueError (bad input), InfeasibleError (naming the link or constraint), SolverError (not optimal).
    """
    if method not in ("auto", "cvxpy", "reference"):
        raise ValueError(f"method={method!r}: must be one of auto, cvxpy, reference")
    req = _Request(
        payload_bits,
        link_snr_hz,
        total_bandwidth_hz,
        objective,
        weights,
        latency_cap_s,
        energy_cap_j,
        tx_power_w,
        budget,
    )
    check_feasible(req)
    closed = req.budget is None or req.energy_cap is None  # at most one coupling constraint besides the band
    if method == "reference" and not closed:
        raise ValueError(
            "method='reference': no closed form with both a budget and an energy cap (use method='cvxpy')"
        )
    if method == "cvxpy" or not closed:
        flags = (req.cap is not None, req.energy_cap is not None, req.budget is not None)
        return _cached_allocator(req.q.shape, objective, flags)._solve(req)
    t0 = time.perf_counter()
    return evaluate(_closed_form(req), req, method="reference", solve_time_s=time.perf_counter() - t0)


def _extra_constraint(req: _Request):
    """The one latency-sum constraint sum v lat <= limit, or (None, None)."""
    if req.budget is not None:
        spare = req.budget.total_cost - float(np.sum(req.q))
        return np.ones_like(req.q), spare / req.budget.beta_tau
    if req.energy_cap is not None:
        return req.p, req.energy_cap
    return None, None


def _closed_form(req: _Request) -> np.ndarray:
    """The optimal bandwidths by the reference (closed form / nested 1-D roots); needs at most one of
    budget and energy cap."""
    extra, limit = _extra_constraint(req)
    if req.objective == "minmax":
        if extra is None and req.cap is None:
            return ref.minmax_latency(req.q, req.a, req.total)[1]
        if extra is None:
            t_star, b = ref.minmax_latency(req.q, req.a, req.total)
            if t_star <= float(np.min(req.cap[req.used])):
                return b  # every cap is met at the common finish time: still optimal
            extra, limit = np.ones_like(req.q), np.inf
        return ref.constrained_minmax_latency(req.q, req.a, req.total, extra, limit, latency_cap_s=req.cap)[1]
    w = req.weights_for(req.objective)
    if extra is None:
        return ref.weighted_latency(req.q, req.a, req.total, w, latency_cap_s=req.cap)[1]
    return ref.constrained_weighted_latency(req.q, req.a, req.total, w, extra, limit, latency_cap_s=req.cap)[
        1
    ]
