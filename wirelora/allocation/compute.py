"""Computation in the round (docs/method.md §7): the min-max round with a computation time before each
upload, and the least-energy round with the CPU frequency as a variable (Yang et al., TWC 2021), by nested
1-D roots. Arrays are the used entries' ([n]).

Min-max: entry k finishes at t_cmp,k + q_k / R_k(b_k). For a finish time T the least band is
need(T) = sum_k b_min(q_k / tau_k(T)), tau_k(T) = min(T, cap_k) - t_cmp,k, decreasing in T; T* is its root.
Full transmit power and the fastest CPU are optimal here (both only shorten the round).

Least energy with the CPU frequency f_k <= f_max a variable: entry k splits its cap tau_k into computation
cycles_k / f_k and upload t_k; energy kappa cycles f^2 = kappa cycles^3 / (tau - t)^2 grows with t, the
upload energy falls with t and with b. For a band price lambda each entry minimises over t (convex; its
derivative is a bracketed root, found for all entries at once over y = log(a / b_lo) by a safeguarded Newton
on the log of its two terms' ratio, warm-started at the last price's roots, stopping where the slope is zero
to rounding)

    phi_k(t) = kappa C^3 / (tau - t)^2 + min_{b >= b_lo(t)} [E_up(b, t) + lambda b],

with b_lo(t) the least band carrying q / t at full power; E_up = p t at a fixed power p (then b = b_lo(t)),
or (t b / g)(e^{c/(t b)} - 1) with c = q ln 2 at a variable power (then b = max(c / (t u), b_lo(t)) with
F(u) = lambda g / t, power.py). lambda is the root of sum_k b_k(lambda) = B_tot: a safeguarded Newton in
log lambda, d b_k / d lambda by the implicit function theorem on the entry's optimality condition.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import brentq

from wirelora.allocation import closed_form as cf
from wirelora.allocation.power import log_f, u_of_log_s
from wirelora.errors import InfeasibleError

__all__ = ["common_finish_time", "fdma_minmax", "least_energy_with_cpu"]

_LN2 = np.log(2.0)


def common_finish_time(need, t_floor: float, t_hi: float, target: float) -> float:
    """The root T in (t_floor, t_hi] of need(T) = target, need decreasing (inf at or below t_floor)."""
    if need(t_hi) > target:
        raise InfeasibleError(
            f"latency_cap_s: meeting every cap needs {need(t_hi):.6g} of {target:.6g} (the band or the frame)"
        )
    t_lo = None
    for rel in (1e-1, 1e-3, 1e-6, 1e-9, 1e-12, 1e-14):
        t = min(t_floor * (1.0 + rel), t_hi)
        if need(t) > target:
            t_lo = t
            break
    if t_lo is None:  # the optimum lies within 1e-14 (relative) of the floor
        return t_floor * (1.0 + 1e-14)
    if t_lo >= t_hi:
        return t_hi

    def f(t):
        return np.log(need(t) / target)

    return brentq(f, t_lo, t_hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)


def fdma_minmax(q, a, total, offset, cap=None):
    """(T*, b) of the min-max round with computation offsets (and caps on computation + upload)."""
    floor = offset + q * _LN2 / a

    def taus(t):
        return (t if cap is None else np.minimum(t, cap)) - offset

    def need(t):
        tau = taus(t)
        if np.any(tau * a <= q * _LN2):
            return np.inf
        return float(np.sum(cf.min_bandwidth_hz(q / tau, a)))

    if cap is not None:
        bad = cap <= floor
        if np.any(bad):
            k = int(np.argmax(bad))
            raise InfeasibleError(
                f"latency_cap_s={float(cap[k]):g}: entry {k} needs {float(floor[k]):.6g} s even with all the "
                f"bandwidth and full power"
            )
    t_eq = float(np.max(offset + q / cf.shannon_rate_bps(total / q.size, a)))
    t_hi = t_eq if cap is None else max(t_eq, float(np.max(cap)))
    t_star = common_finish_time(need, float(np.max(floor)), t_hi, total)
    b = cf.min_bandwidth_hz(q / taus(t_star), a)
    return t_star, b * (total / np.sum(b))


def least_energy_with_cpu(q, a, total, tau, cycles, kappa, cpu_max, *, p=None, g=None):
    """Least transmit + computation energy with the CPU frequency a variable (FDMA).

    tau : the cap on computation + upload (s); a : link_snr_hz at full (or the fixed) power; p : the fixed
    power (None: the power is a variable with g = a / max_tx_power_w). Returns (b, t_up, f_hz).
    """
    c = q * _LN2
    t_max = tau - cycles / cpu_max  # upload time at the fastest CPU
    t_floor = c / a  # the rate ceiling at full power
    if np.any(t_max <= t_floor):
        k = int(np.argmax(t_max <= t_floor))
        raise InfeasibleError(
            f"latency_cap_s={float(tau[k]):g}: entry {k} cannot compute at max_cpu_hz and upload in time"
        )
    k3 = kappa * cycles**3
    pw = p if p is not None else a / g  # power at the clip (full power)
    log_g = None if p is not None else np.log(g)

    # The search runs over y = log z, z = a / b_lo (the SNR over the least band), where t and b_lo are
    # explicit: t(z) = c z / (a log1p z), increasing in z, so no Lambert W per step.
    def slope(y, log_lam, u_start=None):
        """_Slope of d phi / dt at t(e^y) for the band price e^log_lam."""
        z = np.exp(y)
        ln = np.log1p(z)
        t = c * z / (a * ln)
        m = cf._dphi(1.0 / z)  # phi'(b_lo / a)
        t_y = t * m / ln  # dt / dy
        gap = tau - t
        e_cmp = 2.0 * k3 / gap**3
        e_cmp_t = 3.0 * e_cmp / gap
        band_term = np.exp(log_lam) * (-(c / t**2) / m)  # lambda d b_lo / dt
        # d log(-d b_lo / dt) / dy, from b_lo' = -a^2 ln^2 / (c z^2 m)
        log_beta_y = 2.0 * z / ((1.0 + z) * ln) - 2.0 - z * z / ((1.0 + z) ** 2 * m)
        d = e_cmp + pw + band_term
        size = e_cmp + pw - band_term
        g_y = e_cmp_t * t_y / (e_cmp + pw) - log_beta_y
        bl = a / z
        if p is not None:
            return _Slope(d, size, g_y, bl, None, None, t_y / t)
        u = u_of_log_s(log_lam + log_g - np.log(t), u_start)
        b_free = c / (t * u)
        free = b_free > bl
        lf = log_f(u)
        up_free = (b_free / g) * np.exp(lf)  # lambda b_free / t
        r = np.exp(lf - 2.0 * np.log(u) - u)  # F / (u^2 e^u) = d log u / d log F, in (0, 1/2]
        # d log(lambda b_free / t) / dt = -(2 - r) / t
        g_free_y = (e_cmp_t / e_cmp + (2.0 - r) / t) * t_y
        return _Slope(
            np.where(free, e_cmp - up_free, d),
            np.where(free, e_cmp + up_free, size),
            np.where(free, g_free_y, g_y),
            np.where(free, b_free, bl),
            u,
            np.where(free, r, 0.0),
            t_y / t,
        )

    y_lo = np.log(a / cf.min_bandwidth_hz(q / (t_floor * (1.0 + 1e-12)), a))
    b_hi = cf.min_bandwidth_hz(q / t_max, a)  # the least band: the fastest CPU and full power
    if np.sum(b_hi) > total:
        raise InfeasibleError(
            f"latency_cap_s: the caps need {float(np.sum(b_hi)):.6g} Hz at max_cpu_hz and full power "
            f"> total_bandwidth_hz={total:g}"
        )
    y_hi = np.log(a / b_hi)
    eps = np.finfo(float).eps
    warm = {}  # the last band price's roots and powers: the next price's start

    def solve_t(log_lam):
        """(t, b, d log sum b / d log lambda) for the band price e^log_lam."""
        s_lo = slope(y_lo, log_lam, warm.get("u_lo"))
        s_hi = slope(y_hi, log_lam, warm.get("u_hi"))
        warm["u_lo"], warm["u_hi"] = s_lo.u, s_hi.u
        at_max = s_hi.d <= 0  # the fastest CPU: upload as long as possible
        at_lo = ~at_max & (s_lo.d >= 0)  # no sign change: frozen at the end
        ends = at_max | at_lo
        lo, hi = y_lo.copy(), y_hi.copy()
        y = np.clip(warm["y"], y_lo, y_hi) if "y" in warm else 0.5 * (lo + hi)
        y = np.where(at_max, y_hi, np.where(at_lo, y_lo, y))
        done, u = ends, warm.get("u", s_hi.u)
        # safeguarded Newton in y on G = log((size + d) / (size - d)) (the sign of d, nearly linear in y): a
        # step leaving the bracket [lo, hi] (d(lo) < 0 < d(hi)) bisects it
        for _ in range(200):
            s, y_eval = slope(y, log_lam, u), y
            u, neg = s.u, s.d < 0
            lo, hi = np.where(~done & neg, y, lo), np.where(~done & ~neg, y, hi)
            zero = np.abs(s.d) <= 8.0 * eps * s.size  # a root to rounding: stop there
            with np.errstate(divide="ignore", invalid="ignore"):
                step = np.log1p(2.0 * s.d / (s.size - s.d)) / s.g_y
            y_next = y - step
            inside = (y_next >= lo) & (y_next <= hi)
            # quadratic convergence: after a Newton step under 1e-10, y is exact to rounding
            small = inside & (np.abs(step) <= 1e-10 * np.maximum(np.abs(y), 1.0))
            newton = small | (inside & (y_next > lo) & (y_next < hi))
            tight = hi - lo <= 4.0 * eps * np.maximum(np.abs(lo) + np.abs(hi), 1.0)
            y = np.where(done | zero, y, np.where(newton, y_next, 0.5 * (lo + hi)))
            done = done | zero | tight | small
            if np.all(done):
                break
        warm["y"], warm["u"] = np.where(ends, warm.get("y", y), y), u
        t = np.where(at_max, t_max, c * np.exp(y) / (a * np.log1p(np.exp(y))))
        # d log b / d log lambda: -r at a fixed t (the ends), else through y (implicit function theorem)
        r = np.where(at_max, s_hi.r, s.r) if p is None else np.zeros_like(y)
        b_y = np.where(r > 0, -(1.0 - r) * s.ty_over_t, -1.0)  # d log b / dy
        dlog_b = np.where(ends, -r, b_y * (1.0 - r) / s.g_y - r)
        # the band at the last Newton step's end (under 1e-10 from the last slope): first order is exact to
        # rounding
        b = np.where(at_max, s_hi.b, s.b * np.exp(b_y * (y - y_eval)))
        return t, b, float(np.sum(b * dlog_b) / np.sum(b))

    # safeguarded Newton on S = log(sum b / total) in log lambda (decreasing, nearly linear): S within 1e-14
    # of 0 (quadratic convergence) or a step at rounding ends it
    log_lam = np.log(float(np.sum(pw * tau) / total))  # J per Hz: the order of the band price
    lo, hi = -np.inf, np.inf
    for _ in range(300):
        t, b, slope_s = solve_t(log_lam)
        excess = np.log(np.sum(b) / total)
        if abs(excess) <= 1e-14:
            break
        lo, hi = (log_lam, hi) if excess > 0 else (lo, log_lam)
        step = -excess / slope_s if slope_s < 0 else np.inf
        nxt = log_lam + float(np.clip(step, -10.0, 10.0))
        if not lo < nxt < hi:
            nxt = 0.5 * (lo + hi) if np.isfinite(lo + hi) else log_lam + np.copysign(10.0, excess)
        if abs(nxt - log_lam) <= 1e-13 * max(abs(log_lam), 1.0) or not -745.0 < nxt < 710.0:
            break
        log_lam = nxt
    b = b * (total / np.sum(b))
    return b, t, cycles / (tau - t)


class _Slope(NamedTuple):
    """d phi / dt at a point (its sign; size: the sum of its terms' magnitudes, |d| below ~eps times it is
    zero to rounding), dG / dy (G = log((size + d) / (size - d)), increasing), the band, u (None at a fixed
    power), r = F / (u^2 e^u) where the power is free (0 at the clip) and (dt / dy) / t."""

    d: np.ndarray
    size: np.ndarray
    g_y: np.ndarray
    b: np.ndarray
    u: np.ndarray | None
    r: np.ndarray | None
    ty_over_t: np.ndarray
