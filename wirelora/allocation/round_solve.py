"""Solve and evaluate a problem with a round model (round_model.py): transmit power and CPU frequency as
variables, computation before the upload, TDMA, and the energy + time objective. docs/method.md §7.

Full power and the fastest CPU are optimal for min-max and weighted latency (both only shorten the uploads and
the computation); energy trades them against time. energy_time minimises E*(T) + w T over the round latency
T, with E*(T) the least energy under the cap T (convex and decreasing in T): the root of dJ/dT (secant).
"""

from __future__ import annotations

import time

import numpy as np

from wirelora.allocation import closed_form as cf
from wirelora.allocation import compute, tdma
from wirelora.allocation.power import least_energy_bandwidth
from wirelora.allocation.problem import Allocation, AllocationProblem
from wirelora.allocation.upload_time import least_band, least_energy_fdma
from wirelora.errors import SolverError
from wirelora.wireless.rates import shannon_rate_bps

__all__ = ["solve_round", "evaluate_round"]

_LN2 = np.log(2.0)
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


def _least_energy(s: _Used, cap, warm=None):
    """(x, p, f, dE / d cap) of the least-energy round under the caps (None: no cap; fixed power and CPU
    only): the last is each entry's energy's derivative in its cap (envelope theorem; None without caps).
    warm : a dict kept between calls on nearby caps (energy_time)."""
    if s.cpu_max is not None and s.kappa is not None:
        if s.tdma:
            raise ValueError("access='tdma': the CPU frequency as a variable (max_cpu_hz, kappa) needs fdma")
        b, _, f, marginal = compute.least_energy_with_cpu(
            s.q, s.a, s.total, cap, s.cycles, s.kappa, s.cpu_max, p=s.p, g=s.g, warm=warm
        )
        if s.p is not None:
            return b, s.p, f, marginal
        return b, _fdma_power(s, b, cap - s.cycles / f), f, marginal
    tau = None if cap is None else cap - s.c  # the upload time
    if s.pmax is not None:  # power a variable
        if s.tdma:
            theta, p, marginal = tdma.tdma_least_energy(s.q, s.a, s.g, s.total, tau, warm)
            return theta, np.minimum(p, s.pmax), s.f_full, marginal
        b_lo = least_band(s.q, s.a, s.total, tau, {} if warm is None else warm)
        # d b_lo / d tau: b_lo ln(1 + a / b_lo) = q ln2 / tau
        b_lo_slope = -(s.q * _LN2 / tau**2) / cf._dphi(b_lo / s.a)
        b, p, marginal = least_energy_bandwidth(s.q, s.g, tau, s.total, b_lo, b_lo_slope, warm)
        return b, np.minimum(p, s.pmax), s.f_full, marginal
    if s.tdma:  # fixed power: the energy p q / R(B) does not depend on the shares
        return _minmax(s, cap)[1], s.p, s.f_full, None if cap is None else np.zeros_like(s.q)
    if tau is None:
        return cf.weighted_latency(s.q, s.a, s.total, s.p)[1], s.p, s.f_full, None
    b, _, marginal = least_energy_fdma(s.q, s.a, s.total, tau, p=s.p, warm=warm)
    return b, s.p, s.f_full, marginal


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
        x, p, f, _ = _least_energy(s, s.cap)
        return evaluate_round(req, x, p, f, method="reference", t0=t0)
    return evaluate_round(req, *_energy_time(req, s), method="reference", t0=t0)


def _energy_time(req: AllocationProblem, s: _Used):
    """(x, p, f) minimising J(T) = E*(T) + w T over the round latency T >= T_min: J is convex, so T* is the
    root of dJ/dT = w - M(T), M = -sum of d E* / d cap over the entries whose cap is T (envelope theorem;
    decreasing from inf at T_min to 0 where E* flattens). Secant steps on log w - log M over log(T - T_min),
    where it is nearly linear, in a doubling bracket (_increasing_root), each inner solve warm-started from
    the nearby ones and solved loosely far from the root (gap)."""
    # (FDMA: the Newton of compute.py, also without computation or caps)
    t_min = _minmax(s, s.cap)[0] if s.tdma else compute.fdma_minmax(s.q, s.a, s.total, s.c, s.cap)[0]
    w = req.round.time_weight
    warm: dict = {}
    memo: dict = {}

    # (log(T - T_min), the band price and the inner roots) of the solves so far: the next solve starts from
    # their values at its v, linear (the positive roots: in log) through the two nearest solves
    solves: list = []

    def at(t, tol=_EXACT):
        """((x, p, f), M) at T = t, the inner band price solved to |log(sum b / total)| <= tol."""
        if t not in memo or memo[t][2] > tol:
            cap = np.full_like(s.q, t) if s.cap is None else np.minimum(s.cap, t)
            v = np.log(t - t_min)
            if len(solves) >= 2:
                (v1, w1), (v2, w2) = sorted(solves, key=lambda e: abs(e[0] - v))[:2]
                warm.update(_between(w1, w2, 0.0 if v1 == v2 else (v - v1) / (v2 - v1)))
                prices = [e[1]["log_lam"] for e in solves]  # an extrapolation stays near the solves' prices
                warm["log_lam"] = float(np.clip(warm["log_lam"], min(prices) - 5.0, max(prices) + 5.0))
            warm["tol"] = tol
            x, p, f, marginal = _least_energy(s, cap, warm)
            if np.isfinite(warm.get("log_lam", np.inf)):
                solves.append((v, {k: warm[k] for k in _ROOTS if k in warm}))
            binding = np.ones(s.q.shape, bool) if s.cap is None else t < s.cap
            memo[t] = (x, p, f), -float(np.sum(marginal[binding])), tol
        return memo[t]

    last = []  # |gap| of the last point with a value

    def gap(v):  # log w - log M at T = T_min + e^v (M = 0 on E*'s plateau: None)
        # inexact Newton: far from the root the price is solved loosely (its error is O(tol) in the gap,
        # under the next gap's size for a superlinear outer iteration); near it, or without a value, exactly
        loose = _EXACT if not last else min(_TOL_SCALE * last[-1] ** 2, _TOL_MAX)
        loose = _EXACT if loose < 1e-10 else loose  # (then the answer's exact solve costs no more)
        for tol in (loose, _EXACT) if loose > _EXACT else (loose,):
            m = at(t_min + np.exp(v), tol)[1]
            g = np.log(w) - np.log(m) if m > 0 else None
            if g is not None and abs(g) > _TRUST * tol:
                break
        if g is not None:
            last.append(abs(g))
        return g

    v_floor = np.log(1e-10 * t_min)  # at T_min exactly the band is used up at full power: the boundary
    if s.tdma and s.pmax is None:  # fixed-power TDMA: the energy does not depend on T
        return at(t_min + np.exp(v_floor))[0]
    return at(t_min + np.exp(_increasing_root(gap, np.log(t_min), v_floor)))[0]  # (exact)


# energy_time's inner solves: the band price's last Newton step (in log) under tol ends them (_EXACT: only
# their own criteria, |log(sum b / total)| <= 1e-14 or a step at rounding); see gap
_EXACT, _TOL_SCALE, _TOL_MAX, _TRUST = 0.0, 1e-4, 1e-6, 1e2
_ROOTS = ("log_lam", "y", "z", "u")  # the band price, upload_time.py's y, least_band's z, power.py's u


def _between(w1: dict, w2: dict, frac: float) -> dict:
    """The warm roots at frac of the way from the solve w1 to the solve w2 (linear; z and u, positive, in
    log); y's price moves from here (y_lam)."""
    out = {}
    for k in _ROOTS:
        if k in w1 and k in w2:
            if k in ("z", "u"):
                out[k] = np.exp(np.log(w1[k]) + (np.log(w2[k]) - np.log(w1[k])) * frac)
            else:
                out[k] = w1[k] + (w2[k] - w1[k]) * frac
    if "y" in out:
        out["y_lam"] = out["log_lam"]
    return out


def _increasing_root(f, v, v_floor):
    """The root of an increasing, nearly linear f (None: above the root, f's value unknown) in v >= v_floor
    (v_floor if f(v_floor) >= 0): secant steps (the first through a probe 1e-3 away, else of slope 1),
    bisection where a step leaves the bracket or an end is None; |f| <= 1e-13, a bracket or a secant step
    under 1e-13 (relative) ends it."""
    lo, hi = -np.inf, np.inf  # f(lo) < 0 <= f(hi)
    prev = None  # (v, f(v)) of the last point with a value
    probe = 1e-3  # the first point with a value gets its slope from a point this close towards the root

    def bracket(v, fv):
        return (lo, v) if fv is None or fv > 0 else (v, hi)

    for _ in range(200):
        fv = f(v)
        if fv is not None and abs(fv) <= 1e-13:
            return v
        lo, hi = bracket(v, fv)
        if hi - lo <= 1e-13 * max(abs(v), 1.0):
            return hi
        if fv is not None and prev is None and v - probe > v_floor:
            # a nearby (cheap, warm-started) solve gives the slope: a far first step costs more
            vp = v - probe if fv > 0 else v + probe
            fp = f(vp)
            if fp is not None and abs(fp) <= 1e-13:
                return vp
            lo, hi = bracket(vp, fp)
            if fp is not None and fp != fv:
                prev = (vp, fp)
        if fv is None:
            nxt = np.nan
        elif prev is None or prev[0] == v:
            nxt = v - float(np.clip(fv, -5.0, 5.0))  # slope 1 (a power law in T - T_min), at most 5
        else:
            nxt = v - fv * (v - prev[0]) / (fv - prev[1])
            if abs(nxt - v) <= 1e-13 * max(abs(v), 1.0):  # the next step at rounding: v is the root
                return v
        if fv is not None:
            prev = (v, fv)
        if not lo < nxt < hi:  # bisect (doubling T - T_min up, halving it down, while unbounded)
            nxt = 0.5 * (lo + hi) if np.isfinite(lo + hi) else (v + 1.0 if hi == np.inf else v - 2.0)
        if nxt <= v_floor:
            if f(v_floor) is not None and f(v_floor) >= 0:
                return v_floor
            lo, nxt = v_floor, 0.5 * (v_floor + hi)
        v = nxt
    return v


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
