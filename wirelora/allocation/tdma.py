"""TDMA access (docs/method.md §7): each entry transmits over the whole band B_tot for a time share theta_k of
the frame (sum theta <= 1), at the full-band rate R_k = B log2(1 + a_k / B). Arrays are the used entries'.

Its latency is q_k / (theta_k R_k) and its airtime (the time it transmits) q_k / R_k, whatever its share.
- min-max: every entry finishes together, theta_k = d_k / T with d_k = q_k / R_k, so T* = sum_k d_k (closed
  form); with computation first, T* is the root of sum_k d_k / (min(T, cap_k) - t_cmp,k) = 1.
- weighted: min sum w d / theta s.t. sum theta = 1, theta >= theta_min (the caps): theta_k =
  max(theta_min,k, sqrt(w_k d_k / nu)), closed form without caps (theta proportional to sqrt(w d)), a root in
  nu with them.
- energy at a fixed power: p d_k whatever the shares (the min-max shares are returned).
- energy with the power a variable: p = (B / g)(2^{q / (theta tau B)} - 1) over the airtime theta tau gives
  energy tau theta B (e^{c / (theta B)} - 1) / g, the FDMA energy at b = theta B (power.py), with the clip
  theta >= q / (tau R_k) at full power.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from wirelora.allocation.compute import common_finish_time
from wirelora.allocation.power import least_energy_bandwidth
from wirelora.errors import InfeasibleError
from wirelora.wireless.rates import shannon_rate_bps

__all__ = ["airtime_s", "tdma_minmax", "tdma_weighted", "tdma_least_energy"]


def airtime_s(q, a, total):
    """d_k = q_k / R_k(B): the time entry k transmits at the full-band rate."""
    return q / shannon_rate_bps(total, a)


def _min_share(d, offset, cap):
    if cap is None:
        return np.zeros_like(d)
    slack = cap - offset - d
    if np.any(slack <= 0):
        k = int(np.argmax(slack <= 0))
        raise InfeasibleError(
            f"latency_cap_s={float(cap[k]):g}: entry {k} needs {float(offset[k] + d[k]):.6g} s even with the "
            f"whole frame"
        )
    theta = d / (cap - offset)
    if np.sum(theta) > 1.0:
        raise InfeasibleError(f"latency_cap_s: the caps need {float(np.sum(theta)):.6g} of the frame (> 1)")
    return theta


def tdma_minmax(d, offset, cap=None):
    """(T*, theta) of the min-max TDMA round (d : airtimes, offset : computation times)."""
    _min_share(d, offset, cap)
    if cap is None and not np.any(offset):
        t_star = float(np.sum(d))
        return t_star, d / t_star

    def taus(t):
        return (t if cap is None else np.minimum(t, cap)) - offset

    def need(t):
        tau = taus(t)
        return np.inf if np.any(tau <= d) else float(np.sum(d / tau))

    t_hi = float(np.max(offset) + np.sum(d))  # finish every computation, then transmit one after another
    if cap is not None:
        t_hi = max(t_hi, float(np.max(cap)))
    t_star = common_finish_time(need, float(np.max(offset + d)), t_hi, 1.0)
    theta = d / taus(t_star)
    return t_star, theta / np.sum(theta)


def tdma_weighted(d, w, offset, cap=None):
    """theta minimising sum w d / theta s.t. sum theta = 1, latency <= cap."""
    theta_min = _min_share(d, offset, cap)
    root = np.sqrt(w * d)
    theta = root / np.sum(root)
    if np.all(theta >= theta_min):
        return theta

    def excess(log_nu):
        return np.log(np.sum(np.maximum(theta_min, root * np.exp(-0.5 * log_nu))))

    # nu with no clip binding: sum root / sqrt(nu) = 1; larger nu shrinks the free shares
    lo = 2.0 * np.log(np.sum(root))
    hi = lo + 2.0
    while excess(hi) > 0:
        hi += 10.0
        if hi > lo + 1400:  # the caps alone use the whole frame
            return theta_min / np.sum(theta_min)
    log_nu = brentq(excess, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=300)
    theta = np.maximum(theta_min, root * np.exp(-0.5 * log_nu))
    return theta / np.sum(theta)


def tdma_least_energy(q, a, g, total, tau, warm=None):
    """(theta, p, d E_k / d tau_k) of the least-energy TDMA round with the power a variable (tau: upload
    time; the clip theta >= d / tau moves as d b_lo / d tau = -b_lo / tau)."""
    d = airtime_s(q, a, total)
    theta_min = d / tau
    if np.sum(theta_min) > 1.0:
        need = float(np.sum(theta_min))
        raise InfeasibleError(f"latency_cap_s: the caps need {need:.6g} of the frame (> 1)")
    b_lo = total * theta_min
    b, p_fdma, marginal = least_energy_bandwidth(q, g, tau, total, b_lo, -b_lo / tau, warm)
    theta = b / total
    return theta, p_fdma / theta, marginal
