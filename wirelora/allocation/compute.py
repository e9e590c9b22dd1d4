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

import numpy as np
from scipy.optimize import brentq

from wirelora.allocation import closed_form as cf
from wirelora.allocation.upload_time import least_band_from, least_energy_fdma
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
    t_star, b = _fdma_finish_time(q, a, total, offset, cap, float(np.max(floor)), t_hi)
    return t_star, b * (total / np.sum(b))


def _fdma_finish_time(q, a, total, offset, cap, t_floor: float, t_hi: float):
    """(T, b) with T in (t_floor, t_hi] the root of need(T) = sum_k b_min(q_k / tau_k(T)) = total and b the
    bands at T: a safeguarded Newton on log(need / total) in v = log(T - t_floor) (decreasing, nearly linear),
    d need / dT = sum over the entries whose cap is T of -(q ln2 / tau^2) / phi'(b / a), the bands by
    Newton from the last iterate's (least_band_from: no Lambert W after the first). A step under 2 eps T
    ends it."""
    c = q * _LN2
    z = None

    def at(v):
        nonlocal z
        t = t_floor + np.exp(v)
        binding = np.ones(q.shape, bool) if cap is None else t < cap
        tau = (t if cap is None else np.minimum(t, cap)) - offset
        if np.any(tau * a <= c):
            return np.inf, 0.0, None
        b = least_band_from(q, a, tau, z)
        z = a / b
        need = float(np.sum(b))
        db_dt = np.where(binding, -(c / tau**2) / cf._dphi(b / a), 0.0)
        return float(np.log(need / total)), float(np.exp(v) * np.sum(db_dt) / need), b

    v_hi = float(np.log(t_hi - t_floor))
    h, dh, b = at(v_hi)
    if h > 0:
        raise InfeasibleError(
            f"latency_cap_s: meeting every cap needs {total * np.exp(h):.6g} of {total:.6g} Hz (the band)"
        )
    lo, hi, v = -np.inf, v_hi, v_hi  # h(lo) > 0 >= h(hi); b at hi
    for _ in range(200):
        nxt = v - h / dh if dh < 0 and np.isfinite(h) else np.nan
        if not lo < nxt < hi:  # bisect (shrinking T - t_floor by e^-2 while unbounded below)
            nxt = 0.5 * (lo + hi) if np.isfinite(lo) else hi - 2.0
        small = abs(np.exp(nxt) - np.exp(v)) <= 2.0 * np.finfo(float).eps * (t_floor + np.exp(v))
        v = nxt
        h, dh, b_v = at(v)
        if small and b_v is not None:  # v is the root to rounding (either side: Newton from the left rises
            return t_floor + float(np.exp(v)), b_v  # to it while hi stays where it overshot)
        if h > 0:
            lo = v
        else:
            hi, b = v, b_v
        if h == 0.0:
            break
    return t_floor + float(np.exp(hi)), b


def least_energy_with_cpu(q, a, total, tau, cycles, kappa, cpu_max, *, p=None, g=None, warm=None):
    """Least transmit + computation energy with the CPU frequency a variable (FDMA, upload_time.py).

    tau : the cap on computation + upload (s); a : link_snr_hz at full (or the fixed) power; p : the fixed
    power (None: the power is a variable with g = a / max_tx_power_w). Returns (b, t_up, f_hz, d phi / d tau).
    """
    t_max = tau - cycles / cpu_max  # upload time at the fastest CPU
    if np.any(t_max <= q * _LN2 / a):
        k = int(np.argmax(t_max <= q * _LN2 / a))
        raise InfeasibleError(
            f"latency_cap_s={float(tau[k]):g}: entry {k} cannot compute at max_cpu_hz and upload in time"
        )
    b, t, dphi_dtau = least_energy_fdma(
        q, a, total, t_max, k3=kappa * cycles**3, tau=tau, p=p, g=g, warm=warm
    )
    return b, t, cycles / (tau - t), dphi_dtau
