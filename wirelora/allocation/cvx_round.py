"""The cvxpy programs of the round model (round_model.py), the independent check of power.py, compute.py and
round_solve.py (docs/method.md §7). DPP, built once per (program, number of used entries), scaled per link by
the closed-form optimum (b = s z, as in cvx.py), then polished onto the feasible set and re-checked.

- "power" (FDMA energy, the power a variable): with kappa_k = c_k / s_k the energy is
  D_k (e^kappa m_k - z_k), D_k = tau_k s_k / g_k, m_k >= z exp(kappa (1 - z) / z) (an exponential cone;
  e^kappa is factored out so that the cone sees O(1) numbers), z >= b_lo / s (the power limit).
- "cpu" (FDMA energy, the CPU frequency a variable, fixed power): y = t_up / tau, rate(z) >= k / y,
  energy p tau y + kappa C^3 / tau^2 (1 - y)^-2, y <= 1 - C / (f_max tau).
- "offset" (FDMA min-max with computation first): rate(z) >= k / (sigma - c / T_ref).
- "energy_time" (FDMA, fixed power and CPU): sum p lat_ref / r + w T_ref sigma, c / T_ref + k / r <= sigma.
- "cpu_time" (FDMA energy_time, the CPU frequency a variable, fixed power): y = t_up / T_ref and sigma =
  T / T_ref, rate(z) >= k / y, energy p T_ref y + kappa C^3 / T_ref^2 (min(sigma, cap / T_ref) - y)^-2 + w
  T_ref sigma, min(sigma, cap / T_ref) - y >= C / (f_max T_ref).
- "tdma_minmax" (TDMA min-max, and energy or energy_time at a fixed power, whose energy p q / R(B) does
  not depend on the shares: the least round wins): theta = theta_ref z, c / T_ref + l inv_pos(z) <= sigma
  with l = d / (theta_ref T_ref), z >= theta_min / theta_ref (the caps); "tdma_weighted": sum w l inv_pos(z).
- "power" under TDMA: the FDMA program at b = theta B_tot (the energy depends on band x time only), z >=
  theta_min / theta_ref.
- Otherwise (no computation offset and no variable): cvx.BandwidthAllocator on caps less the computation time.

No program (ValueError) where the problem is convex but not DCP-expressible: the power and the CPU frequency
both variables, and energy_time with the power a variable (FDMA or TDMA). Their upload energy is
h(t b) = (t b / g)(e^{q ln2 / (t b)} - 1), a function of the product of upload time t and band b (or time
share), both variables: h is convex and decreasing, and h(t b) is jointly convex (it is k(sqrt(t b)) with
k(r) = h(r^2) convex and decreasing, and sqrt(t b) = geo_mean(t, b) concave), but no DCP atom (nor an
exponential or power cone in these variables) gives k; fixing t makes it the exponential cone of "power",
which is how the closed form (nested roots) handles it. These are checked against SLSQP and brute force.
"""

from __future__ import annotations

import numpy as np

from wirelora.allocation import closed_form as cf
from wirelora.allocation import tdma
from wirelora.allocation.cvx import _CLARABEL_RETRIES, DPP_MAX_ENTRIES, BandwidthAllocator, ScaledRate
from wirelora.allocation.polish import polish_band
from wirelora.allocation.problem import AllocationProblem
from wirelora.allocation.round_solve import _Used, evaluate_round, solve_round
from wirelora.errors import SolverError
from wirelora.wireless.rates import shannon_rate_bps

__all__ = ["solve_round_cvxpy"]

_LN2 = np.log(2.0)
_PROGRAMS: dict = {}
_ALLOCATORS: dict = {}


def _kind(req: AllocationProblem, s: _Used) -> str:
    cpu_var = s.cpu_max is not None and s.kappa is not None
    if s.tdma and cpu_var:
        raise ValueError("access='tdma': the CPU frequency as a variable (max_cpu_hz, kappa) needs fdma")
    if s.tdma:
        if req.objective == "weighted":
            return "tdma_weighted"
        if req.objective == "minmax" or s.pmax is None:
            return "tdma_minmax"
        if req.objective == "energy":
            return "power"
    if req.objective == "energy" and s.pmax is not None and not cpu_var:
        return "power"
    if req.objective == "energy" and cpu_var and s.pmax is None:
        return "cpu"
    if req.objective == "minmax" and np.any(s.c):
        return "offset"
    if req.objective == "energy_time" and s.pmax is None:
        return "cpu_time" if cpu_var else "energy_time"
    if not s.tdma and (
        req.objective in ("minmax", "weighted") or (req.objective == "energy" and s.pmax is None)
    ):
        return "plain"
    raise ValueError(
        f"method='cvxpy': no cvxpy program for objective={req.objective!r} with these variables (convex, "
        f"but the upload energy of a variable power over a variable time is not DCP; use method='auto')"
    )


class _RoundProgram:
    def __init__(self, kind: str, n: int, capped: bool):
        import cvxpy as cp

        P = cp.Parameter
        self.z = cp.Variable(n, nonneg=True)
        self.bw = P(n, nonneg=True)  # s / B
        cons = [self.bw @ self.z <= 1.0]
        if kind == "power":
            self.kap, self.zlo = P(n, nonneg=True), P(n, nonneg=True)
            self.am, self.dz = P(n, nonneg=True), P(n, nonneg=True)
            m = cp.Variable(n)
            cons += [cp.constraints.ExpCone(cp.multiply(self.kap, 1 - self.z), self.z, m), self.z >= self.zlo]
            obj = cp.Minimize(self.am @ m - self.dz @ self.z)
        elif kind in ("tdma_minmax", "tdma_weighted"):
            self.lr, self.zlo = P(n, nonneg=True), P(n, nonneg=True)
            cons.append(self.z >= self.zlo)
            if kind == "tdma_minmax":
                self.sigma = cp.Variable()
                self.cc = P(n, nonneg=True)
                cons.append(self.cc + cp.multiply(self.lr, cp.inv_pos(self.z)) <= self.sigma)
                obj = cp.Minimize(self.sigma)
            else:
                obj = cp.Minimize(self.lr @ cp.inv_pos(self.z))  # lr: w l / (sum w l)
        else:
            self.rate = ScaledRate(n)
            rate = self.rate.expr(self.z)
            self.k = P(n, nonneg=True)
            if capped:
                self.rmin = P(n, nonneg=True)
                cons.append(rate >= self.rmin)
        if kind == "cpu":
            self.y = cp.Variable(n, nonneg=True)
            v = cp.Variable(n)
            self.ymax, self.pe, self.ke = P(n, nonneg=True), P(n, nonneg=True), P(n, nonneg=True)
            cons += [cp.inv_pos(self.y) <= v, rate >= cp.multiply(self.k, v), self.y <= self.ymax]
            obj = cp.Minimize(self.pe @ self.y + self.ke @ cp.power(1 - self.y, -2))
        elif kind == "cpu_time":
            self.y, self.sigma = cp.Variable(n, nonneg=True), cp.Variable()
            v = cp.Variable(n)
            self.cmin, self.pe, self.ke = P(n, nonneg=True), P(n, nonneg=True), P(n, nonneg=True)
            self.wt = P(nonneg=True)
            window = self.sigma  # the cap on computation + upload: min(T, cap) / T_ref
            if capped:
                self.capn, window = P(n, nonneg=True), cp.Variable(n)
                cons += [window <= self.sigma, window <= self.capn]
            cons += [cp.inv_pos(self.y) <= v, rate >= cp.multiply(self.k, v), window - self.y >= self.cmin]
            obj = cp.Minimize(
                self.pe @ self.y + self.ke @ cp.power(window - self.y, -2) + self.wt * self.sigma
            )
        elif kind == "offset":
            self.sigma = cp.Variable()
            v = cp.Variable(n)
            self.cc = P(n, nonneg=True)
            cons += [cp.inv_pos(self.sigma - self.cc) <= v, rate >= cp.multiply(self.k, v)]
            obj = cp.Minimize(self.sigma)
        elif kind == "energy_time":
            self.sigma = cp.Variable()
            r, inv_r = cp.Variable(n), cp.Variable(n)
            self.cc, self.pe = P(n, nonneg=True), P(n, nonneg=True)
            self.wt = P(nonneg=True)
            cons += [r <= rate, cp.inv_pos(r) <= inv_r, self.cc + cp.multiply(self.k, inv_r) <= self.sigma]
            obj = cp.Minimize(self.pe @ inv_r + self.wt * self.sigma)
        self.problem = cp.Problem(obj, cons)
        if not self.problem.is_dpp():  # pragma: no cover - a construction bug
            raise AssertionError("the round program is not DPP")


def _run(problem, n: int) -> str:
    import warnings

    import cvxpy as cp

    status = "not solved"
    for opts in _CLARABEL_RETRIES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                problem.solve(solver="CLARABEL", ignore_dpp=n > DPP_MAX_ENTRIES, **opts)
            status = problem.status
        except cp.error.SolverError:
            status = "solver_error"
        if status == cp.OPTIMAL:
            break
    return status


def solve_round_cvxpy(req: AllocationProblem, t0: float):
    """The round problem by cvxpy (see the module docstring); SolverError unless optimal and feasible."""
    s = _Used(req)
    kind = _kind(req, s)
    if kind == "plain":
        return _plain(req, s, t0)
    ref = solve_round(req, t0)  # the scale: the closed-form optimum
    used = req.used
    if s.tdma:
        return _tdma(req, s, kind, ref.time_share[used], t0)
    sc = np.maximum(ref.bandwidth_hz[used], 1e-300)
    prog = _program(
        kind, s.q.size, capped := s.cap is not None and kind in ("offset", "energy_time", "cpu_time")
    )
    prog.bw.value = sc / s.total
    lat_ref = s.q / shannon_rate_bps(sc, s.a)  # the upload time at the scale band (full or fixed power)
    if kind != "power":
        prog.rate.set(s.a / sc)
    if kind == "power":
        _set_power(prog, s, sc, cf.min_bandwidth_hz(s.q / (s.cap - s.c), s.a))
    elif kind == "cpu":
        tau = s.cap
        prog.k.value = lat_ref / tau
        prog.ymax.value = 1.0 - s.cycles / (s.cpu_max * tau)
        e_ref = float(np.sum(s.p * lat_ref + s.kappa * s.cycles**3 / (tau - lat_ref) ** 2))
        prog.pe.value = s.p * tau / e_ref
        prog.ke.value = s.kappa * s.cycles**3 / tau**2 / e_ref
    elif kind == "cpu_time":
        t_ref = ref.round_latency_s
        prog.k.value, prog.cmin.value = lat_ref / t_ref, s.cycles / (s.cpu_max * t_ref)
        window = t_ref if s.cap is None else np.minimum(t_ref, s.cap)
        e_ref = float(np.sum(s.p * lat_ref + s.kappa * s.cycles**3 / (window - lat_ref) ** 2))
        e_ref += req.round.time_weight * t_ref
        prog.pe.value = s.p * t_ref / e_ref
        prog.ke.value = s.kappa * s.cycles**3 / t_ref**2 / e_ref
        prog.wt.value = req.round.time_weight * t_ref / e_ref
        if capped:  # (the upload fits the cap at the fastest CPU: implied, but stated for the solver)
            prog.capn.value = s.cap / t_ref
            prog.rmin.value = lat_ref / (s.cap - s.cycles / s.cpu_max)
    else:
        t_ref = ref.round_latency_s
        prog.k.value, prog.cc.value = lat_ref / t_ref, s.c / t_ref
        if capped:
            prog.rmin.value = lat_ref / (s.cap - s.c)
        if kind == "energy_time":
            e_ref = float(np.sum(s.p * lat_ref)) + req.round.time_weight * t_ref
            prog.pe.value = s.p * lat_ref / e_ref
            prog.wt.value = req.round.time_weight * t_ref / e_ref
    status = _run(prog.problem, s.q.size)
    if status != "optimal":
        raise SolverError(f"solver status {status!r} (only 'optimal' is accepted)")
    b = sc * np.maximum(prog.z.value, 0.0)
    if kind == "cpu_time":  # the round latency T = sigma T_ref, at least every fastest finish
        return _polished_cpu_time(req, s, b, float(prog.sigma.value) * ref.round_latency_s, t0)
    return _polished(req, s, kind, b, t0)


def _polished_cpu_time(req, s: _Used, b, t_round, t0):
    """b onto the band (and the caps at the fastest CPU); T at least every entry's fastest finish; the CPU
    at the slowest frequency that finishes by min(T, cap)."""
    b_lo = np.zeros_like(b)
    if s.cap is not None:
        b_lo = cf.min_bandwidth_hz(s.q / (s.cap - s.cycles / s.cpu_max), s.a)
    b = polish_band(b, b_lo, s.total)
    t_up = s.q / shannon_rate_bps(b, s.a)
    t_round = max(t_round, float(np.max(t_up + s.cycles / s.cpu_max)))
    window = t_round if s.cap is None else np.minimum(t_round, s.cap)
    f = np.minimum(s.cycles / (window - t_up), s.cpu_max)
    return evaluate_round(req, b, s.p, f, method="cvxpy", t0=t0)


def _program(kind: str, n: int, capped: bool) -> _RoundProgram:
    key = (kind, n, capped)
    if key not in _PROGRAMS:
        _PROGRAMS[key] = _RoundProgram(kind, n, capped)
    return _PROGRAMS[key]


def _set_power(prog, s: _Used, sc, b_lo):
    """The "power" program's parameters at the scale band sc (b = sc z >= b_lo, the power limit)."""
    tau = s.cap - s.c
    kap = s.q * _LN2 / (tau * sc)
    d = tau * sc / s.g
    e_ref = float(np.sum(d * np.expm1(kap)))
    prog.kap.value, prog.zlo.value = kap, b_lo / sc
    prog.am.value, prog.dz.value = d * np.exp(kap) / e_ref, d / e_ref


def _tdma(req: AllocationProblem, s: _Used, kind: str, theta_ref, t0):
    """The TDMA programs, scaled by the closed-form shares theta_ref; polished onto the frame, re-checked."""
    d = tdma.airtime_s(s.q, s.a, s.total)
    theta_ref = np.maximum(theta_ref, 1e-300)
    tau = None if s.cap is None else s.cap - s.c
    theta_min = np.zeros_like(d) if tau is None else d / tau
    prog = _program(kind, s.q.size, False)
    prog.bw.value = theta_ref
    if kind == "power":
        _set_power(prog, s, theta_ref * s.total, theta_min * s.total)
    else:
        prog.zlo.value = theta_min / theta_ref
        lat = d / theta_ref  # each entry's upload time at its reference share
        if kind == "tdma_minmax":
            t_ref = float(np.max(s.c + lat))
            prog.lr.value, prog.cc.value = lat / t_ref, s.c / t_ref
        else:
            prog.lr.value = s.w * lat / float(np.sum(s.w * lat))
    status = _run(prog.problem, s.q.size)
    if status != "optimal":
        raise SolverError(f"solver status {status!r} (only 'optimal' is accepted)")
    theta = polish_band(theta_ref * np.maximum(prog.z.value, 0.0), theta_min, 1.0)
    p = s.power
    if (
        kind == "power"
    ):  # the least power carrying q in the share's airtime: (B / g)(2^{q / (theta tau B)} - 1)
        p = np.minimum((s.total / s.g) * np.expm1(s.q * _LN2 / (theta * tau * s.total)), s.pmax)
    return evaluate_round(req, theta, p, s.f_full, method="cvxpy", t0=t0)


def _polished(req, s: _Used, kind: str, b, t0):
    """Polish onto the feasible set, recompute the dependent variables exactly, re-check (evaluate_round)."""
    if kind == "power":
        tau = s.cap - s.c
        b = polish_band(b, cf.min_bandwidth_hz(s.q / tau, s.a), s.total)
        p = np.minimum((b / s.g) * np.expm1(s.q * _LN2 / (tau * b)), s.pmax)
        return evaluate_round(req, b, p, s.f_full, method="cvxpy", t0=t0)
    if kind == "cpu":
        b = polish_band(b, cf.min_bandwidth_hz(s.q / (s.cap - s.cycles / s.cpu_max), s.a), s.total)
        t_up = s.q / shannon_rate_bps(b, s.a)
        f = np.minimum(s.cycles / (s.cap - t_up), s.cpu_max)
        return evaluate_round(req, b, s.p, f, method="cvxpy", t0=t0)
    b_lo = np.zeros_like(b) if s.cap is None else cf.min_bandwidth_hz(s.q / (s.cap - s.c), s.a)
    return evaluate_round(req, polish_band(b, b_lo, s.total), s.power, s.f_full, method="cvxpy", t0=t0)


def _plain(req: AllocationProblem, s: _Used, t0: float):
    """No offset, no variable: cvx.BandwidthAllocator on the caps less the computation time."""
    cap = None if req.cap is None else req.cap - req.round.offsets(req.q)
    objective = "weighted" if req.objective == "weighted" else req.objective
    plain = AllocationProblem.build(
        req.q,
        req.a,
        req.total,
        objective=objective,
        weights=req.w,
        latency_cap_s=None if cap is None else np.where(req.used, cap, 1.0),
        tx_power_w=None if req.p is None else np.where(req.used, req.p, 1.0),
    )
    key = (req.q.shape, objective, plain.flags)
    solver = _ALLOCATORS.get(key)
    if solver is None:
        solver = _ALLOCATORS[key] = BandwidthAllocator(req.q.shape, objective, latency_cap=cap is not None)
    alloc = solver._solve(plain, t0)
    b_lo = np.zeros_like(s.q) if cap is None else cf.min_bandwidth_hz(s.q / cap[req.used], s.a)
    b = polish_band(alloc.bandwidth_hz[req.used], b_lo, s.total)
    return evaluate_round(req, b, s.power, s.f_full, method="cvxpy", t0=t0)
