"""Solve and evaluate a problem with a round model (round_model.py): transmit power and CPU frequency as
variables, computation before the upload, TDMA, and the energy + time objective. docs/method.md §7.

Full power and the fastest CPU are optimal for min-max and weighted latency (both only shorten the uploads and
the computation); energy trades them against time. energy_time minimises E*(T) + w T over the round latency
T, with E*(T) the least energy under the cap T (convex and decreasing in T): Brent's bounded search.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import minimize_scalar

from wirelora.allocation import closed_form as cf
from wirelora.allocation import compute, tdma
from wirelora.allocation.power import least_energy_bandwidth
from wirelora.allocation.problem import Allocation, AllocationProblem
from wirelora.errors import InfeasibleError, SolverError
from wirelora.wireless.rates import shannon_rate_bps

__all__ = ["solve_round", "evaluate_round"]

_TOL = 1e-9  # every returned allocation meets its caps and power limits to this relative tolerance


class _Used:
    """The used entries' arrays of a round problem."""

    def __init__(self, req: AllocationProblem):
        rm, u = req.round, req.used
        self.q, self.a, self.total = req.q[u], req.a[u], req.total
        self.c = rm.offsets(req.q)[u]  # computation time at the fastest CPU
        self.cap = None if req.cap is None else req.cap[u]
        self.p = None if req.p is None else req.p[u]
        self.pmax = None if rm.pmax is None else rm.pmax[u]
        self.g = None if rm.pmax is None else self.a / self.pmax
        self.w = None if req.w is None else req.w[u]
        self.cycles = None if rm.cycles is None else rm.cycles[u]
        self.cpu_max = None if rm.cpu_max is None else rm.cpu_max[u]
        self.f_full = None
        if rm.cycles is not None:
            self.f_full = self.cpu_max if rm.cpu_variable else rm.cpu_hz[u]
        self.kappa, self.tdma = rm.kappa, rm.access == "tdma"
        self.power = self.pmax if self.pmax is not None else self.p  # full (or the fixed) power


def _minmax(s: _Used, cap):
    """(T*, x) with x the bandwidths (FDMA) or time shares (TDMA), full power, fastest CPU."""
    if s.tdma:
        return tdma.tdma_minmax(tdma.airtime_s(s.q, s.a, s.total), s.c, cap)
    if cap is None and not np.any(s.c):
        return cf.minmax_latency(s.q, s.a, s.total)
    return compute.fdma_minmax(s.q, s.a, s.total, s.c, cap)


def _least_energy(s: _Used, cap):
    """(x, p, f) of the least-energy round under the caps (None: no cap; fixed power and CPU only)."""
    if s.cpu_max is not None and s.kappa is not None:
        if s.tdma:
            raise ValueError("access='tdma': the CPU frequency as a variable (max_cpu_hz, kappa) needs fdma")
        b, _, f = compute.least_energy_with_cpu(
            s.q, s.a, s.total, cap, s.cycles, s.kappa, s.cpu_max, p=s.p, g=s.g
        )
        if s.p is not None:
            return b, s.p, f
        return b, _fdma_power(s, b, cap - s.cycles / f), f
    tau = None if cap is None else cap - s.c  # the upload time
    if s.pmax is not None:  # power a variable
        if s.tdma:
            theta, p = tdma.tdma_least_energy(s.q, s.a, s.g, s.total, tau)
            return theta, np.minimum(p, s.pmax), s.f_full
        b_lo = cf.min_bandwidth_hz(s.q / tau, s.a)
        if not np.all(np.isfinite(b_lo)) or np.sum(b_lo) > s.total:
            raise InfeasibleError(
                f"latency_cap_s: the caps need {float(np.sum(b_lo)):.6g} Hz at max_tx_power_w "
                f"> total_bandwidth_hz={s.total:g}"
            )
        b, p = least_energy_bandwidth(s.q, s.g, tau, s.total, b_lo)
        return b, np.minimum(p, s.pmax), s.f_full
    if s.tdma:  # fixed power: the energy p q / R(B) does not depend on the shares
        return _minmax(s, cap)[1], s.p, s.f_full
    if tau is not None:
        b_lo = cf.min_bandwidth_hz(s.q / tau, s.a)
        if not np.all(np.isfinite(b_lo)) or np.sum(b_lo) > s.total:
            raise InfeasibleError("latency_cap_s: the caps need more than total_bandwidth_hz")
    return cf.weighted_latency(s.q, s.a, s.total, s.p, latency_cap_s=tau)[1], s.p, s.f_full


def _fdma_power(s: _Used, b, t_up):
    """The least power carrying q in t_up over b: (b / g)(2^{q / (t_up b)} - 1), at most max_tx_power_w."""
    return np.minimum((b / s.g) * np.expm1(s.q * np.log(2.0) / (t_up * b)), s.pmax)


def solve_round(req: AllocationProblem, t0: float) -> Allocation:
    """The optimal allocation of a round problem (closed forms and nested 1-D roots)."""
    s = _Used(req)
    if req.objective == "minmax":
        _, x = _minmax(s, s.cap)
        return evaluate_round(req, x, s.power, s.f_full, method="reference", t0=t0)
    if req.objective == "weighted":
        if s.tdma:
            x = tdma.tdma_weighted(tdma.airtime_s(s.q, s.a, s.total), s.w, s.c, s.cap)
        else:
            tau = None if s.cap is None else s.cap - s.c
            x = cf.weighted_latency(s.q, s.a, s.total, s.w, latency_cap_s=tau)[1]
        return evaluate_round(req, x, s.power, s.f_full, method="reference", t0=t0)
    if req.objective == "energy":
        x, p, f = _least_energy(s, s.cap)
        return evaluate_round(req, x, p, f, method="reference", t0=t0)
    return evaluate_round(req, *_energy_time(req, s), method="reference", t0=t0)


def _energy_time(req: AllocationProblem, s: _Used):
    """(x, p, f) minimising E*(T) + w T over the round latency T >= T_min (bounded Brent in T)."""
    t_min, _ = _minmax(s, s.cap)

    def at(t):
        cap = np.full_like(s.q, t) if s.cap is None else np.minimum(s.cap, t)
        return _least_energy(s, cap)

    memo = {}

    def score(t):
        if t not in memo:
            memo[t] = evaluate_round(req, *at(t), method="", t0=0.0, check=False).objective_value
        return memo[t]

    t_lo = t_min * (1.0 + 1e-10)  # at T_min exactly the band is used up at full power: the boundary
    variable = s.pmax is not None or (s.cpu_max is not None and s.kappa is not None)
    if variable:  # E*(T) falls for ever: J convex, and once J(2T) >= J(T) the minimiser lies below 2T
        t = 2.0 * t_lo
        for _ in range(80):
            if score(2.0 * t) >= score(t):
                break
            t *= 2.0
        t_hi = 2.0 * t
    else:  # fixed power and CPU: E*(T) is flat from the uncapped least-energy round on
        x, p, f = _least_energy(s, s.cap)
        t_hi = evaluate_round(req, x, p, f, method="", t0=0.0, check=False).round_latency_s
        if t_hi <= t_lo:
            return at(t_lo)
    # J is convex on [t_lo, t_hi] (no plateau there): Brent's bounded search
    res = minimize_scalar(score, bounds=(t_lo, t_hi), method="bounded", options={"xatol": 1e-10 * t_hi})
    t_best = min((t_lo, float(res.x), t_hi), key=score)
    return at(t_best)


def evaluate_round(req: AllocationProblem, x, p, f, *, method: str, t0: float, check: bool = True):
    """The Allocation of used-entry decisions x (bandwidths, or time shares under TDMA), power p, CPU f."""
    rm, used, q = req.round, req.used, req.q

    def full(v):
        if v is None:
            return None
        out = np.zeros_like(q)
        out[used] = v
        return out

    qu, au = q[used], req.a[used]
    a_eff = au if rm.pmax is None else au * (p / rm.pmax[used])
    share = None
    with np.errstate(divide="ignore", invalid="ignore"):
        if rm.access == "tdma":
            share = full(x)
            full_rate = shannon_rate_bps(req.total, a_eff)
            rate = x * full_rate
            airtime = qu / full_rate
            b = full(np.full_like(qu, req.total))
        else:
            b = full(x)
            rate = shannon_rate_bps(x, a_eff)
            airtime = qu / rate
        lat_u = np.where(rate > 0, qu / rate, np.inf)
    comp_u = np.zeros_like(qu) if rm.cycles is None and rm.compute_s is None else None
    if comp_u is None:
        comp_u = rm.compute_s[used] if f is None else rm.cycles[used] / f
    lat, comp = full(lat_u), full(comp_u)
    energy = None if p is None else full(p * airtime)
    comp_energy = None if rm.kappa is None else full(rm.kappa * rm.cycles[used] * f**2)
    round_latency = float(np.max(comp_u + lat_u))
    if req.objective == "minmax":
        value = round_latency
    elif req.objective == "weighted":
        value = float(np.sum(req.w[used] * (comp_u + lat_u)))
    else:
        value = float(np.sum(energy)) + (0.0 if comp_energy is None else float(np.sum(comp_energy)))
        if req.objective == "energy_time":
            value += rm.time_weight * round_latency
    if check:
        _check_limits(req, comp_u + lat_u, p, x)
    return Allocation(
        bandwidth_hz=b,
        rate_bps=full(rate),
        link_latency_s=lat,
        round_latency_s=round_latency,
        energy_j=energy,
        edge_cost=None,
        objective=req.objective,
        objective_value=value,
        total_bandwidth_hz=req.total,
        method=method,
        solve_time_s=time.perf_counter() - t0,
        tx_power_w=full(p) if p is not None else None,
        cpu_hz=full(f) if f is not None else None,
        compute_time_s=comp if (rm.cycles is not None or rm.compute_s is not None) else None,
        compute_energy_j=comp_energy,
        time_share=share,
        access=rm.access,
    )


def _check_limits(req: AllocationProblem, finish_u, p, x) -> None:
    """SolverError unless the allocation meets the band (or frame), the caps and the power limit to 1e-9."""
    used = req.used
    problems = []
    limit = 1.0 if req.round.access == "tdma" else req.total
    if not np.all(np.isfinite(finish_u)):
        problems.append("a latency is not finite")
    if np.sum(x) > limit * (1 + _TOL) or np.any(x < 0):
        problems.append(f"the {'frame' if limit == 1.0 else 'band'} is exceeded")
    if req.cap is not None and np.any(finish_u > req.cap[used] * (1 + _TOL)):
        problems.append("a latency cap is exceeded")
    if req.round.pmax is not None and np.any(p > req.round.pmax[used] * (1 + _TOL)):
        problems.append("max_tx_power_w is exceeded")
    if problems:
        raise SolverError(f"the allocation found does not meet its constraints: {'; '.join(problems)}")
