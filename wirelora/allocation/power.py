"""Transmit power as a variable: the least-energy power and bandwidth under a latency cap, by KKT (closed form
in the Lambert W function plus one bracketed root). docs/method.md §7.

Entry k sends q_k bits in an upload time tau_k (its latency cap, less its computation time) with power p_k
over bandwidth b_k: q_k = tau_k b_k log2(1 + p_k g_k / b_k), g_k = link_snr_hz / max_tx_power_w (Hz per W).
Energy p tau is increasing in the rate, so at the optimum every entry uses its whole upload time and

    p_k(b) = (b / g_k)(e^{c_k / b} - 1),   E_k(b) = tau_k p_k(b),   c_k = q_k ln 2 / tau_k (nats/s).

E_k is convex and decreasing in b (the perspective of exp). p_k <= p_max is b_k >= b_lo,k (the least band that
carries the rate at full power). KKT of min sum E_k s.t. sum b = B_tot, b >= b_lo: with u = c / b (nats per
symbol) -E_k'(b) = (tau_k / g_k) F(u), F(u) = 1 + (u - 1) e^u, so

    F(u_k) = lambda g_k / tau_k,   b_k = max(c_k / u_k, b_lo,k),

u_k = 1 + W0((s - 1) / e) with s = lambda g_k / tau_k; sum b_k(lambda) is decreasing and lambda is its root
(in log lambda). The same problem under TDMA (a time share theta of the whole band) is this one with
b = theta B_tot: the energy depends only on the product of band and time.
"""

from __future__ import annotations

import numpy as np
from scipy.special import lambertw

__all__ = ["log_f", "u_of_log_s", "least_energy_bandwidth"]


_SERIES = np.array([(n - 1) / np.prod(np.arange(1.0, n + 1)) for n in range(17, 1, -1)])  # u^17 .. u^2


def log_f(u):
    """log F(u), F(u) = 1 + (u - 1) e^u = sum_{n>=2} (n - 1) u^n / n! (> 0 for u > 0), no cancellation:
    the series (to u^17) below u = 1/2, u + log(u + expm1(-u)) above (F = e^u (u - 1 + e^-u))."""
    u = np.asarray(u, dtype=float)
    big = np.maximum(u, 0.5)
    out = np.atleast_1d(big + np.log(big + np.expm1(-big)))
    small = np.atleast_1d(u < 0.5)
    if np.any(small):  # the series on the small entries only
        us = np.atleast_1d(u)[small]
        series = np.zeros_like(us)
        for c in _SERIES:
            series = (series + c) * us
        out[small] = np.log(series * us)  # the coefficients start at u^2
    return out.reshape(u.shape)


def u_of_log_s(log_s, u_start=None):
    """u > 0 with log F(u) = log_s (F increases from 0 to inf): Lambert W start (or u_start, a nearby root
    of a previous call: then Newton alone, falling back to the Lambert W start unless it converges)."""
    log_s = np.asarray(log_s, dtype=float)
    if u_start is not None:
        u, done = _newton_log_f(np.maximum(u_start, 1e-300), log_s, 8)
        if done:
            return u
    with np.errstate(over="ignore"):
        s = np.exp(np.minimum(log_s, 700.0))
    w = lambertw(np.maximum(s - 1.0, -1.0 + 1e-300) / np.e).real
    # for s < 1/2 the series' first term u^2 / 2 is a good start; above e^700 W0(z) ~ log z - log log z
    lz = log_s - 1.0
    w_big = lz - np.log(np.maximum(lz, 1.0))
    u = np.where(log_s < np.log(0.5), np.sqrt(2.0 * s), np.where(log_s > 700.0, 1.0 + w_big, 1.0 + w))
    return _newton_log_f(np.maximum(u, 1e-300), log_s, 30)[0]  # quadratic from the start: 2-3 steps


def _newton_log_f(u, log_s, steps):
    """(u, converged): Newton steps on log F = log_s in v = log u from u (log F is nearly linear in v:
    2 v - log 2 for small u, e^v for large), each step at most 3 in v."""
    v = np.log(u)
    for _ in range(steps):
        lf = log_f(u)
        # d log F / d log u = u^2 e^u / F; quadratic convergence with a constant <= 1/2: once every step is
        # under 1e-8 the next iterate is exact to rounding
        step = np.clip((lf - log_s) * np.exp(lf - u - 2.0 * v), -3.0, 3.0)
        v = v - step
        u = np.exp(v)
        if np.all(np.abs(step) <= 1e-8):
            return u, True
    return u, False


def least_energy_bandwidth(q, g, tau, total, b_lo, b_lo_slope, warm=None):
    """The least-energy bandwidths (all [n], used entries only): min sum E_k(b_k) s.t. sum b = total,
    b >= b_lo. q bits, g Hz/W, tau upload time (s), b_lo Hz (finite, sum <= total), b_lo_slope = d b_lo /
    d tau. warm : a dict kept between calls on nearby instances (the last band price starts the next solve).
    Returns (b, p, d E_k / d tau_k) with p_k = (b_k / g_k) expm1(c_k / b_k) <= p_max up to rounding and the
    last by the envelope theorem (upload_marginal)."""
    c = q * np.log(2.0) / tau
    log_gt = np.log(g) - np.log(tau)  # log s = log lambda + log(g / tau)
    if np.sum(b_lo) >= total:  # the power caps alone use the whole band (no finite band price)
        b = b_lo * (total / np.sum(b_lo))
        return b, _power(b, c, g), np.full_like(b, -np.inf)
    warm = {} if warm is None else warm

    def band(log_lam):
        """(b, d log sum b / d log lambda): b = max(c / u, b_lo), d log (c / u) / d log lambda = -r."""
        u = u_of_log_s(log_lam + log_gt, warm.get("u"))
        warm["u"] = u
        b = np.maximum(c / u, b_lo)
        r = np.where(c / u > b_lo, np.exp(log_f(u) - 2.0 * np.log(u) - u), 0.0)
        return b, float(-np.sum(b * r) / np.sum(b))

    # lambda_lo: one entry alone takes the whole band (u = c / total, so sum b >= total); the start (unless
    # warm): every entry takes <= total / n
    lo, hi = float(np.min(log_f(c / total) - log_gt)), np.inf
    log_lam = max(warm.get("log_lam", float(np.max(log_f(c * q.size / total) - log_gt))), lo)
    # safeguarded Newton in log lambda on S = log(sum b / total) (decreasing, slope -1/2 where no clip
    # binds), steps of at most 10: S within 1e-14 of 0 or a step at rounding ends it; a step leaving the
    # bracket bisects it
    for _ in range(500):
        b, slope = band(log_lam)
        excess = float(np.log(np.sum(b) / total))
        if abs(excess) <= 1e-14:
            break
        lo, hi = (log_lam, hi) if excess > 0 else (lo, log_lam)
        step = -excess / slope if slope < 0 else np.copysign(np.inf, excess)
        if abs(step) <= warm.get("tol", 0.0):  # energy_time's early steps: the price to within tol
            break
        nxt = log_lam + float(np.clip(step, -10.0, 10.0))
        if not lo < nxt < hi:
            nxt = 0.5 * (lo + hi) if np.isfinite(hi) else log_lam + 10.0
        if abs(nxt - log_lam) <= 1e-13 * max(abs(log_lam), 1.0):
            break
        log_lam = nxt
    warm["log_lam"] = log_lam
    b = b * (total / np.sum(b))  # absorb the root's last-digit error: the band is used exactly
    return b, _power(b, c, g), upload_marginal(b, c, g, tau, log_lam, b_lo_slope)


def upload_marginal(b, c, g, tau, log_lam, b_lo_slope):
    """d E_k / d tau_k at the optimum (envelope theorem): -(b / g) F(c / b) from the energy at a fixed band,
    plus the power clip's multiplier lambda - (tau / g) F(c / b) (0 where the power is free) times
    d b_lo / d tau. c = q ln 2 / tau."""
    f = np.exp(log_f(c / b))
    return -(b / g) * f + np.maximum(np.exp(log_lam) - (tau / g) * f, 0.0) * b_lo_slope


def _power(b, c, g):
    return (b / g) * np.expm1(c / b)
