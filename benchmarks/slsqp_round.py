"""SLSQP (scipy) on the round-model problems of bench_round.py, written from the formulas alone (no wirelora
solver code): what a user without the closed forms would run. Each returns (objective value, seconds,
SLSQP's success flag, the largest relative constraint violation).

Decision vectors: band shares s (b = s B), TDMA time shares theta, upload times t, the round latency T. The
start is the equal split with T (and t) feasible for it; the objective is scaled by its start value.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import minimize

LN2 = np.log(2.0)


def _rate(b, a):
    return b * np.log2(1.0 + a / b)


def _run(fun, x0, bounds, cons):
    scale = abs(float(fun(x0))) or 1.0
    t0 = time.perf_counter()
    res = minimize(
        lambda v: fun(v) / scale,
        x0,
        method="SLSQP",
        bounds=bounds,
        constraints=cons,
        options={"ftol": 1e-15, "maxiter": 3000},
    )
    seconds = time.perf_counter() - t0
    # the largest violation of a (scaled, relative) constraint at SLSQP's answer
    worst = max(
        float(np.max(-c["fun"](res.x))) if c["type"] == "ineq" else float(np.max(np.abs(c["fun"](res.x))))
        for c in cons
    )
    return float(fun(res.x)), seconds, bool(res.success), max(worst, 0.0)


def _eq(n):
    return {"type": "eq", "fun": lambda v: np.sum(v[:n]) - 1.0}


def solve(name: str, q, a, total, kw) -> tuple[float, float, bool, float]:
    """SLSQP for one bench_round.py problem (name as there, kw its allocate arguments)."""
    n = q.size
    s_eq = np.full(n, 1.0 / n)
    lo = [(1e-9, 1.0)] * n
    lat_eq = q / _rate(total * s_eq, a)
    tdma = kw.get("access") == "tdma"
    full_rate = _rate(total, a)
    w = kw.get("time_weight_j_per_s")
    if "compute_cycles" in kw:
        cycles = kw["compute_cycles"] * kw["samples"]
        fmax, kappa, tau = kw["max_cpu_hz"], kw["kappa"], kw.get("latency_cap_s")
        p = kw.get("tx_power_w")
        pmax = kw.get("max_tx_power_w")

        def parts(v):  # energy and the rate (or power) constraint at shares v[:n], uploads v[n:2n]
            b, t = v[:n] * total, v[n : 2 * n]
            window = v[2 * n] if tau is None else tau
            e = kappa * cycles**3 / (window - t) ** 2
            if p is not None:
                return e + p * t, _rate(b, a) * t / q - 1.0
            power = (b * pmax / a) * np.expm1(q * LN2 / (t * b))
            return e + power * t, 1.0 - power / pmax

        x0 = np.concatenate([s_eq, lat_eq * 1.2])
        bounds = lo + [(float(lo_t), None) for lo_t in q * LN2 / a * 1.0001]
        cons = [_eq(n), {"type": "ineq", "fun": lambda v: parts(v)[1]}]
        if tau is None:  # energy_time: T a variable, the CPU at most f_max: T - t >= C / f_max
            x0 = np.append(x0, float(np.max(lat_eq * 1.5 + cycles / fmax)))
            bounds = bounds + [(None, None)]
            cons.append({"type": "ineq", "fun": lambda v: (v[2 * n] - v[n : 2 * n]) * fmax / cycles - 1.0})
            return _run(lambda v: np.sum(parts(v)[0]) + w * v[2 * n], x0, bounds, cons)
        cons.append({"type": "ineq", "fun": lambda v: (tau - v[n : 2 * n]) * fmax / cycles - 1.0})
        return _run(lambda v: np.sum(parts(v)[0]), x0, bounds, cons)
    if kw.get("objective", "minmax") == "minmax":
        c = np.zeros(n) if kw.get("compute_time_s") is None else np.asarray(kw["compute_time_s"], float)

        def lat(v):
            return q / (v[:n] * full_rate) if tdma else q / _rate(v[:n] * total, a)

        x0 = np.append(s_eq, float(np.max(c + lat(np.append(s_eq, 0.0)))) * 1.01)
        cons = [_eq(n), {"type": "ineq", "fun": lambda v: v[n] / (c + lat(v)) - 1.0}]
        return _run(lambda v: v[n], x0, lo + [(0.0, None)], cons)
    pmax = kw.get("max_tx_power_w")
    p = kw.get("tx_power_w")
    tau = kw.get("latency_cap_s")
    if kw["objective"] == "energy":  # the power a variable, under the cap tau (FDMA or TDMA)

        def band(v):  # the band (FDMA) or the whole band's share (TDMA: the energy of b = theta B)
            return v[:n] * total

        def power(v):  # FDMA: over b for tau; TDMA: over B for theta tau
            b = band(v)
            if tdma:
                return (total * pmax / a) * np.expm1(q * LN2 / (v[:n] * tau * total))
            return (b * pmax / a) * np.expm1(q * LN2 / (tau * b))

        def energy(v):
            return np.sum(power(v) * (v[:n] * tau if tdma else tau))

        cons = [_eq(n), {"type": "ineq", "fun": lambda v: 1.0 - power(v) / pmax}]
        return _run(energy, s_eq, lo, cons)
    # energy_time: (shares, T); fixed power: energy p q / R(b) under lat <= T; variable: each entry uses T
    t0 = float(np.max(lat_eq)) * 1.2
    x0 = np.append(s_eq, t0)
    if p is not None:
        cons = [_eq(n), {"type": "ineq", "fun": lambda v: v[n] * _rate(v[:n] * total, a) / q - 1.0}]
        return _run(
            lambda v: np.sum(p * q / _rate(v[:n] * total, a)) + w * v[n], x0, lo + [(0.0, None)], cons
        )

    def power_t(v):
        b = v[:n] * total
        return (b * pmax / a) * np.expm1(q * LN2 / (v[n] * b))

    cons = [_eq(n), {"type": "ineq", "fun": lambda v: 1.0 - power_t(v) / pmax}]
    return _run(lambda v: np.sum(power_t(v)) * v[n] + w * v[n], x0, lo + [(1e-12, None)], cons)
