"""Computation in the round (docs/method.md §7): the min-max round with a computation time before each
upload, and the least-energy round with the CPU frequency as a variable (Yang et al., TWC 2021), by nested
1-D roots. Arrays are the used entries' ([n]).

Min-max: entry k finishes at t_cmp,k + q_k / R_k(b_k). For a finish time T the least band is
need(T) = sum_k b_min(q_k / tau_k(T)), tau_k(T) = min(T, cap_k) - t_cmp,k, decreasing in T; T* is its root.
Full transmit power and the fastest CPU are optimal here (both only shorten the round).

Least energy with the CPU frequency f_k <= f_max a variable: entry k splits its cap tau_k into computation
cycles_k / f_k and upload t_k; energy kappa cycles f^2 = kappa cycles^3 / (tau - t)^2 grows with t, the
upload energy falls with t and with b. For a band price lambda each entry minimises over t (convex; its
derivative is a bracketed root, found for all entries at once over z = a / b_lo: bisection, then Illinois
false position, stopping where the slope is zero to rounding)

    phi_k(t) = kappa C^3 / (tau - t)^2 + min_{b >= b_lo(t)} [E_up(b, t) + lambda b],

with b_lo(t) the least band carrying q / t at full power; E_up = p t at a fixed power p (then b = b_lo(t)),
or (t b / g)(e^{c/(t b)} - 1) with c = q ln 2 at a variable power (then b = max(c / (t u), b_lo(t)) with
F(u) = lambda g / t, power.py). lambda is the root of sum_k b_k(lambda) = B_tot (in log lambda).
"""

from __future__ import annotations

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

    def slope(t, bl, lam, u_start=None):
        # d phi / d t at t with b_lo(t) = bl (increasing in t), the band, u, and the sum of the slope's terms'
        # magnitudes (|d| below ~eps times it is zero to rounding)
        e_cmp = 2.0 * k3 / (tau - t) ** 3
        band_term = lam * (-(c / t**2) / cf._dphi(bl / a))
        d = e_cmp + pw + band_term
        if p is not None:
            return d, bl, None, e_cmp + pw - band_term
        u = u_of_log_s(np.log(lam) + np.log(g) - np.log(t), u_start)
        b_free = c / (t * u)
        free = b_free > bl
        up_free = (b_free / g) * np.exp(log_f(u))
        d_free = e_cmp - up_free
        size = np.where(free, e_cmp + up_free, e_cmp + pw - band_term)
        return np.where(free, d_free, d), np.where(free, b_free, bl), u, size

    # The search runs over z = a / b_lo (the SNR over the least band), where t and b_lo are explicit:
    # t(z) = c z / (a log1p z), increasing in z, so no Lambert W per step.
    def t_of(z):
        return c * z / (a * np.log1p(z))

    z_lo = np.log(a / cf.min_bandwidth_hz(q / (t_floor * (1.0 + 1e-12)), a))
    z_hi = np.log(a / cf.min_bandwidth_hz(q / t_max, a))

    def solve_t(lam):
        lo, hi = z_lo.copy(), z_hi.copy()
        d_lo, _, u, _ = slope(t_of(np.exp(lo)), a / np.exp(lo), lam)
        d_hi, _, u, _ = slope(t_of(np.exp(hi)), a / np.exp(hi), lam, u)
        at_max = d_hi <= 0  # the fastest CPU: upload as long as possible
        lo, hi = np.where(at_max, hi, lo), np.where(d_lo >= 0, lo, hi)  # no sign change: frozen at the end
        side = np.zeros_like(lo)  # +1: lo moved last, -1: hi moved last
        for step in range(256):  # in log z: bisection, then Illinois false position (each 4th: bisection)
            width = hi - lo
            if not np.any(width > 4.0 * np.finfo(float).eps * np.maximum(np.abs(lo) + np.abs(hi), 1.0)):
                break
            mid = 0.5 * (lo + hi)
            secant = step >= 12 and step % 4 != 3
            if secant:
                with np.errstate(invalid="ignore", over="ignore"):
                    sec = lo - d_lo * (width / (d_hi - d_lo))
                mid = np.where((sec > lo) & (sec < hi), sec, mid)
            z = np.exp(mid)
            d, _, u, size = slope(t_of(z), a / z, lam, u)  # the last step's u starts the power's Newton
            neg = d < 0
            zero = np.abs(d) <= 8.0 * np.finfo(float).eps * size  # a root to rounding: stop there
            if secant:  # Illinois: the end kept twice in a row has its value halved
                d_hi = np.where(neg & (side > 0), 0.5 * d_hi, d_hi)
                d_lo = np.where(~neg & (side < 0), 0.5 * d_lo, d_lo)
            lo, d_lo = np.where(neg, mid, lo), np.where(neg, d, d_lo)
            hi, d_hi = np.where(neg, hi, mid), np.where(neg, d_hi, d)
            side = np.where(neg, 1.0, -1.0)
            lo, hi = np.where(zero, mid, lo), np.where(zero, mid, hi)
        z = np.exp(np.where(at_max, z_hi, 0.5 * (lo + hi)))
        t = np.where(at_max, t_max, t_of(z))
        return t, slope(t, a / z, lam, u)[1]

    def excess(log_lam):
        return np.log(np.sum(solve_t(np.exp(log_lam))[1]) / total)

    scale = float(np.sum(pw * tau) / total)  # J per Hz: the order of the band price
    lo, hi = np.log(scale) - 5.0, np.log(scale) + 5.0
    while excess(lo) < 0 and lo > -700:
        lo -= 10.0
    while excess(hi) > 0 and hi < 700:
        hi += 10.0
    log_lam = brentq(excess, lo, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps, maxiter=300)
    t, b = solve_t(np.exp(log_lam))
    b = b * (total / np.sum(b))
    return b, t, cycles / (tau - t)
