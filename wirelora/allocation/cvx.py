"""The cvxpy allocator ``BandwidthAllocator`` (docs/method.md §7): DPP programs built once and re-solved.

Variables b_{g,e} >= 0 (Hz) for group g on link e, rate R = b log2(1 + a / b) = -rel_entr(b, b + a) / ln 2.
Objectives: ``minmax`` (the slowest link), ``weighted`` (sum w * latency), ``energy`` (sum p * latency).
Constraints: total bandwidth; optional per-link latency cap (eq. 12b), per-round edge-cost budget
(eq. 8, 12a), energy cap.

``allocate`` uses the closed form of closed_form.py wherever one exists (every objective with at most one of
budget and energy cap: exact, and robust on any instance) and the cvxpy problem otherwise or on request.

Why the cvxpy problem is written the way it is:
- Mixed weak and strong links (link_snr_hz from 1e4 to 1e12 Hz in one instance) break Clarabel in any fixed
  units. Each link is therefore scaled by its own bandwidth s_e in a feasible allocation near the optimum (the
  closed form of the same objective without budget or energy cap): b_e = s_e z_e, so that z_e = 1 is feasible,
  and time is measured in units of that allocation's round latency T_cf. By homogeneity,
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
from collections.abc import Mapping

import numpy as np

from wirelora.allocation import closed_form as cf
from wirelora.allocation.polish import TOL, polish_coupled, violations
from wirelora.allocation.problem import OBJECTIVES, Allocation, AllocationProblem, check_feasible, evaluate
from wirelora.errors import InfeasibleError, SolverError

__all__ = ["BandwidthAllocator"]

_LN2 = np.log(2.0)


class _Program:
    """The DPP problem over n used entries (the unused ones are left out, not masked: a masked entry leaves a
    free direction that stalls Clarabel)."""

    def __init__(self, n: int, objective: str, flags: tuple[bool, bool, bool], pinned: bool = False):
        import cvxpy as cp

        latency_cap, energy_cap, budget = flags
        self.z = cp.Variable(n, nonneg=True)  # bandwidth / s_e
        self.bw = cp.Parameter(n, nonneg=True)  # s_e / B
        self.rate_params = ScaledRate(n)  # the scaled rate (see ScaledRate)
        self.k = cp.Parameter(n, nonneg=True)  # latency_e / T_ref = k_e / rate_e
        rate = self.rate_params.expr(self.z)  # scaled rate, concave in z; 1 at the scale allocation (z = 1)
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


class ScaledRate:
    """The rate of n links in units of their rate at a scale band s_e, as a concave expression of z = b / s.

    With alpha = a_e / s_e, the rate at z = 1 is ln(1 + alpha) nats/s per s_e, and lam = 1 / ln(1 + alpha)
    makes every scaled rate 1 there:
      lam z ln(1 + alpha/z) = L~ z - rel_entr(lam z, c1~ + c2~ z)   (rel_entr is positively homogeneous)
      alpha < 1:  L~ = 0,            c1~ = lam alpha, c2~ = lam          (lam z ln((z + alpha) / z))
      alpha >= 1: L~ = lam ln alpha, c1~ = lam,       c2~ = lam / alpha  (+ lam z ln((1 + z/alpha) / z))
    so the cone sees O(1) numbers however strong the link (alpha reaches 1e8 at the optimum).
    """

    def __init__(self, n: int):
        import cvxpy as cp

        self.lam = cp.Parameter(n, nonneg=True)
        self.log_alpha = cp.Parameter(n, nonneg=True)
        self.c1 = cp.Parameter(n, nonneg=True)
        self.c2 = cp.Parameter(n, nonneg=True)

    def expr(self, z):
        import cvxpy as cp

        return cp.multiply(self.log_alpha, z) - cp.rel_entr(
            cp.multiply(self.lam, z), self.c1 + cp.multiply(self.c2, z)
        )

    def set(self, alpha: np.ndarray) -> None:
        strong = alpha >= 1.0
        lam = 1.0 / np.log1p(alpha)
        self.lam.value = lam
        self.log_alpha.value = np.where(strong, lam * np.log(alpha), 0.0)
        self.c1.value = np.where(strong, lam, lam * alpha)
        self.c2.value = np.where(strong, lam / alpha, lam)


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
        if objective not in OBJECTIVES[:3]:
            raise ValueError(f"objective={objective!r}: must be one of {', '.join(OBJECTIVES[:3])}")
        self.shape, self.objective, self.solver = shape, objective, solver
        self.solver_opts = dict(solver_opts or {})
        self.flags = (bool(latency_cap), bool(energy_cap), bool(budget))
        self._programs: dict[tuple[int, bool], _Program] = {}
        self.last_attempts = 0  # Clarabel settings the last solve needed (see _CLARABEL_RETRIES)
        # build the all-entries-used problem now, so that construction errors surface here
        self.problem = self._program(int(np.prod(shape))).problem

    def _run(self, problem, n: int) -> str:
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
                    problem.solve(solver=self.solver, ignore_dpp=n > DPP_MAX_ENTRIES, **opts)
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
        req = AllocationProblem.build(
            payload_bits,
            link_snr_hz,
            total_bandwidth_hz,
            objective=self.objective,
            weights=weights,
            latency_cap_s=latency_cap_s,
            energy_cap_j=energy_cap_j,
            tx_power_w=tx_power_w,
            budget=budget,
        )
        t0 = time.perf_counter()
        check_feasible(req)
        return self._solve(req, t0)

    def _solve(self, req: AllocationProblem, t0: float) -> Allocation:
        """Solve a problem that check_feasible has passed (t0: when the solve started)."""
        import cvxpy as cp

        if req.q.shape != self.shape:
            raise ValueError(f"payload_bits: shape {req.q.shape} does not match the allocator's {self.shape}")
        flags = req.flags
        if flags != self.flags:
            names = ("latency_cap_s", "energy_cap_j", "budget")
            bad = next(n for n, f, s in zip(names, flags, self.flags) if f != s)
            built = "with" if self.flags[names.index(bad)] else "without"
            raise ValueError(f"{bad}: this allocator was built {built} that constraint")
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
        prog.rate_params.set(alpha)
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
        status = self._run(prog.problem, int(q.size))
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
        if violations(req, b[used]):  # polish onto the feasible set, then re-check
            b[used] = polish_coupled(req, b[used])
            broken = violations(req, b[used])
            if broken:
                raise SolverError(
                    f"solver status optimal, but the allocation breaks {', '.join(broken)} by more than "
                    f"{TOL:g} relative, and polishing does not repair it"
                )
        return evaluate(b, req, method="cvxpy", solve_time_s=time.perf_counter() - t0)


def _scale_allocation(req: AllocationProblem) -> np.ndarray:
    """A feasible allocation near the optimum, in closed form: the per-link units of the cvxpy problem."""
    if req.objective == "minmax":
        return cf.minmax_latency(req.q, req.a, req.total)[1]
    return cf.weighted_latency(
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

# Above this many solved entries the program is compiled without DPP (parameters read as constants) at every
# solve. cvxpy 1.9 reformulates a parametric conic program through a sparse matrix with
# (variables + 1) x (parameter entries + 1) columns: memory quadratic in the number of links (0.7 GiB at 1000
# entries with the weighted objective, ~70 GiB at 1e4); the plain compile is linear and, at that size, faster.
DPP_MAX_ENTRIES = 500

# Below this SNR over its band (a / s), a link's rate is within a fraction a / (2 s) of its ceiling a / ln 2
# and its exponential cone sits next to the cone's ray (y ln(w / y) with w / y = 1 + a / s): a min-max
# problem with such a bottleneck stalls Clarabel short of "optimal" (the seed-0 1000-link benchmark
# instance: a / s = 3.4e-3).
_PIN_SNR = 0.05
