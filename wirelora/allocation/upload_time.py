"""The least-energy FDMA round over each entry's upload time t (docs/method.md §7): compute.py's CPU frequency
as a variable and the fixed-power energy under caps, by one solver.

Entry k uploads q_k bits in t in (q ln2 / a, t_max,k] (t_max: its upload cap, less the computation at the
fastest CPU) over the least band b_lo(t) carrying q / t at full power. The computation energy
k3 / (tau - t)^2 (k3 = kappa cycles^3, tau the cap on computation + upload: the CPU slows to fill what the
upload leaves) grows with t; the upload energy falls with t and with b. For a band price lambda each entry
minimises over t (convex)

    phi_k(t) = k3 / (tau - t)^2 + min_{b >= b_lo(t)} [E_up(b, t) + lambda b],

with E_up = p t at a fixed power p (then b = b_lo(t)), or (t b / g)(e^{c/(t b)} - 1) with c = q ln 2 at a
variable power (then b = max(c / (t u), b_lo(t)) with F(u) = lambda g / t, power.py). Its derivative's root
is found for all entries at once over y = log(a / b_lo), where t and b_lo are explicit (t = c z / (a log1p z),
z = e^y): a safeguarded Newton on the log of its two terms' ratio, warm-started at the last price's roots,
stopping where the slope is zero to rounding. lambda is the root of sum_k b_k(lambda) = B_tot: a safeguarded
Newton in log lambda, d b_k / d lambda by the implicit function theorem on the entry's optimality condition.
Without computation energy (k3 = 0) and at a fixed power this is the least-energy band under the upload caps
t_max (the weighted latency problem of closed_form.py with weights p).

The envelope theorem gives d phi_k / d tau at the optimum: -2 k3 / (tau - t)^3, plus d phi / dt at t_max where
the entry is held there (t_max moves with tau) -- energy_time's derivative in the round latency.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from wirelora.allocation import closed_form as cf
from wirelora.allocation.power import u_of_log_s
from wirelora.errors import InfeasibleError

__all__ = ["least_energy_fdma", "least_band", "least_band_from"]

_LN2 = np.log(2.0)


def least_energy_fdma(q, a, total, t_max, *, k3=None, tau=None, p=None, g=None, warm=None):
    """(b, t_up, d phi / d tau) of the least transmit (+ computation) energy FDMA round.

    All [n], used entries. t_max : the upload time cap (s); k3, tau : computation energy k3 / (tau - t)^2
    (None: none); a : link_snr_hz at full (or the fixed) power; p : the fixed power (None: the power is a
    variable with g = a / max_tx_power_w). warm : a dict kept between calls on nearby instances (the last
    band price and roots start the next solve). Raises InfeasibleError if the caps need more than the band.
    """
    c = q * _LN2
    warm = {} if warm is None else warm
    pw = p if p is not None else a / g  # power at the clip (full power)
    log_g = None if p is not None else np.log(g)

    def _computation(t):  # k3 / (tau - t)^2's first and second derivatives in t
        if k3 is None:
            return 0.0, 0.0
        gap = tau - t
        e_cmp = 2.0 * k3 / gap**3
        return e_cmp, 3.0 * e_cmp / gap

    def slope(y, log_lam, prev=None):
        """_Slope of d phi / dt at t(e^y) for the band price e^log_lam (prev: a nearby _Slope, whose u
        moved to first order starts the power's Newton)."""
        z = np.exp(y)
        ln = np.log1p(z)
        t = c * z / (a * ln)
        m = cf._dphi(1.0 / z)  # phi'(b_lo / a)
        t_y = t * m / ln  # dt / dy
        e_cmp, e_cmp_t = _computation(t)
        band_term = np.exp(log_lam) * (-(c / t**2) / m)  # lambda d b_lo / dt
        # d log(-d b_lo / dt) / dy, from b_lo' = -a^2 ln^2 / (c z^2 m)
        log_beta_y = 2.0 * z / ((1.0 + z) * ln) - 2.0 - z * z / ((1.0 + z) ** 2 * m)
        d = e_cmp + pw + band_term
        size = e_cmp + pw - band_term
        g_y = e_cmp_t * t_y / (e_cmp + pw) - log_beta_y
        bl = a / z
        if p is not None:
            return _Slope(d, size, g_y, bl, None, None, t_y / t, None, None)
        lf = log_lam + log_g - np.log(t)  # log F(u) = log(lambda g / t)
        u_start = None if prev is None or prev.u is None else prev.u * np.exp(prev.r_all * (lf - prev.log_s))
        u = u_of_log_s(lf, u_start)
        b_free = c / (t * u)
        free = b_free > bl
        up_free = (b_free / g) * np.exp(lf)  # lambda b_free / t
        r = np.exp(lf - 2.0 * np.log(u) - u)  # F / (u^2 e^u) = d log u / d log F, in (0, 1/2]
        # d log(lambda b_free / t) / dt = -(2 - r) / t
        g_free_y = ((0.0 if k3 is None else e_cmp_t / e_cmp) + (2.0 - r) / t) * t_y
        return _Slope(
            np.where(free, e_cmp - up_free, d),
            np.where(free, e_cmp + up_free, size),
            np.where(free, g_free_y, g_y),
            np.where(free, b_free, bl),
            u,
            np.where(free, r, 0.0),
            t_y / t,
            lf,
            r,
        )

    if "y" in warm and warm["y"].shape != q.shape:
        warm.clear()
    # the search's lower end: t = (q ln2 / a)(1 + 1e-12), just above the rate ceiling, where
    # log1p(z) = z / (1 + 1e-12) gives z = 2e-12 to first order
    y_lo = np.full_like(q, np.log(2e-12))
    b_hi = least_band(q, a, total, t_max, warm)  # the longest uploads at full power
    y_hi = np.log(a / b_hi)
    eps = np.finfo(float).eps

    hi_ref: list = []  # at a fixed power: the slope at y_hi and its price (only the price term moves)

    def slope_hi(log_lam):
        if hi_ref:  # d = A + B, size = A - B with B = lambda d b_lo / dt
            s0, lam0 = hi_ref
            fixed, band = 0.5 * (s0.d + s0.size), 0.5 * (s0.d - s0.size) * np.exp(log_lam - lam0)
            return s0._replace(d=fixed + band, size=fixed - band)
        s_hi = warm["s_hi"] = slope(y_hi, log_lam, warm.get("s_hi"))
        if p is not None:
            hi_ref.extend((s_hi, log_lam))
        return s_hi

    def solve_t(log_lam, newton_steps):
        """(b, d log sum b / d log lambda, converged) for the band price e^log_lam after at most
        newton_steps of y's Newton (converged: y's roots found; else the values at y's last step); y and
        the entries held at t_max go to warm."""
        s_hi = slope_hi(log_lam)
        at_max = s_hi.d <= 0  # the fastest CPU: upload as long as possible (no search)
        # (an entry whose slope is >= 0 down to y_lo, the rate ceiling, ends there by bisection)
        lo, hi = y_lo, y_hi
        if "y" in warm:  # the last roots, moved to first order in the price
            y = np.clip(warm["y"] + warm["dy"] * (log_lam - warm["y_lam"]), y_lo, y_hi)
        else:  # cold: a Newton step from y_hi, whose slope is at hand (the roots lie near it), else bisect
            with np.errstate(divide="ignore", invalid="ignore"):
                y = y_hi - np.log1p(2.0 * s_hi.d / (s_hi.size - s_hi.d)) / s_hi.g_y
            y = np.where((y > lo) & (y < hi), y, 0.5 * (lo + hi))
        y = np.where(at_max, y_hi, y)
        done, s = at_max, warm.get("s", s_hi)
        # safeguarded Newton in y on G = log((size + d) / (size - d)) (the sign of d, nearly linear in y): a
        # step leaving the bracket [lo, hi] (d(lo) < 0 < d(hi)) bisects it
        for _ in range(newton_steps):
            s, y_eval = slope(y, log_lam, s), y
            neg = s.d < 0
            lo, hi = np.where(~done & neg, y, lo), np.where(~done & ~neg, y, hi)
            zero = np.abs(s.d) <= 8.0 * eps * s.size  # a root to rounding: stop there
            with np.errstate(divide="ignore", invalid="ignore"):
                step = np.log1p(2.0 * s.d / (s.size - s.d)) / s.g_y
            y_next = y - step
            inside = (y_next >= lo) & (y_next <= hi)
            # quadratic convergence: after a Newton step under 1e-8, y is exact to rounding (the error
            # is about the step squared)
            small = inside & (np.abs(step) <= 1e-8 * np.maximum(np.abs(y), 1.0))
            newton = small | (inside & (y_next > lo) & (y_next < hi))
            tight = hi - lo <= 4.0 * eps * np.maximum(np.abs(lo) + np.abs(hi), 1.0)
            y = np.where(done | zero, y, np.where(newton, y_next, 0.5 * (lo + hi)))
            done = done | zero | tight | small
            if np.all(done):
                break
        # d log b / d log lambda: -r at a fixed t (the ends), else through y (implicit function theorem)
        r = np.where(at_max, s_hi.r, s.r) if p is None else np.zeros_like(y)
        b_y = np.where(r > 0, -(1.0 - r) * s.ty_over_t, -1.0)  # d log b / dy
        dlog_b = np.where(at_max, -r, b_y * (1.0 - r) / s.g_y - r)
        warm["y"], warm["s"], warm["y_lam"] = np.where(at_max, warm.get("y", y), y), s, log_lam
        warm["dy"] = np.where(at_max, 0.0, (1.0 - r) / s.g_y)  # d y / d log lambda
        # the band at the last Newton step's end (under 1e-8 from the last slope): first order is exact to
        # rounding
        b = np.where(at_max, s_hi.b, s.b * np.exp(b_y * (y - y_eval)))
        warm["at_max"] = at_max, s_hi.d
        return b, float(np.sum(b * dlog_b) / np.sum(b)), bool(np.all(done))

    # safeguarded Newton on S = log(sum b / total) in log lambda (decreasing, nearly linear): S within 1e-14
    # of 0 (quadratic convergence) or a step at rounding ends it. While the price moves by over 1e-6 (at
    # most 12 times), one Newton step of y per price: a Newton step of the whole KKT system (y's roots and
    # the price, d y / d lambda by the implicit function theorem); then y's roots at each price, whose
    # values alone bracket the price.
    # J per Hz, the order of the band price (or the last solve's price)
    log_lam = warm.get("log_lam", np.log(float(np.sum(pw * t_max) / total)))
    lo, hi = -np.inf, np.inf
    joint = 12
    for _ in range(300):
        b, slope_s, converged = solve_t(log_lam, 1 if joint else 200)
        excess = np.log(np.sum(b) / total)
        step = -excess / slope_s if slope_s < 0 else np.inf
        if converged:
            if abs(excess) <= 1e-14 or abs(step) <= warm.get("tol", 0.0):  # (energy_time: a looser tol)
                break
            lo, hi = (log_lam, hi) if excess > 0 else (lo, log_lam)
        nxt = log_lam + float(np.clip(step, -10.0, 10.0))
        if not lo < nxt < hi:
            nxt = 0.5 * (lo + hi) if np.isfinite(lo + hi) else log_lam + np.copysign(10.0, excess)
        if not converged:
            joint = 0 if abs(nxt - log_lam) <= 1e-6 * max(abs(log_lam), 1.0) else joint - 1
        elif abs(nxt - log_lam) <= 1e-13 * max(abs(log_lam), 1.0) or not -745.0 < nxt < 710.0:
            break
        log_lam = float(np.clip(nxt, -745.0, 710.0))
    warm["log_lam"] = log_lam
    at_max, d_hi = warm["at_max"]
    y = warm["y"]
    t = np.where(at_max, t_max, c * np.exp(y) / (a * np.log1p(np.exp(y))))
    dphi_dtau = np.where(at_max, d_hi, 0.0) - _computation(t)[0]
    return b * (total / np.sum(b)), t, dphi_dtau


def least_band(q, a, total, t, warm):
    """The least band carrying q / t at full power (min_bandwidth_hz), from the last call's root in warm["z"]
    where there is one (least_band_from). InfeasibleError if the sum is over the total."""
    b = least_band_from(q, a, t, warm.get("z"))
    if not np.all(np.isfinite(b)) or np.sum(b) > total:
        raise InfeasibleError(
            f"latency_cap_s: the caps need {float(np.sum(b)):.6g} Hz at full power (and the fastest CPU) "
            f"> total_bandwidth_hz={total:g}"
        )
    warm["z"] = a / b
    return b


def least_band_from(q, a, t, z_start=None):
    """min_bandwidth_hz(q / t, a) (inf where q / t is at or over the rate ceiling), by Newton on
    log1p(z) = k z (z = a / b, k = q ln2 / (a t)) from z_start, a nearby root (nearby caps: a few steps, no
    Lambert W), where every entry starts right of h's maximum; else the Lambert W form."""
    k = q * _LN2 / (a * t)
    z = z_start
    if z is not None and z.shape == q.shape and np.all((k < 1.0) & (1.0 / (1.0 + z) < k) & np.isfinite(z)):
        # right of h's maximum (h = log1p(z) - k z concave): Newton descends to the root monotonically
        for _ in range(30):
            step = (np.log1p(z) - k * z) / (1.0 / (1.0 + z) - k)
            z = np.maximum(z - step, 0.5 * z)
            if np.all(np.abs(step) <= 1e-15 * z):
                return a / z
    return cf.min_bandwidth_hz(q / t, a)


class _Slope(NamedTuple):
    """d phi / dt at a point (its sign; size: the sum of its terms' magnitudes, |d| below ~eps times it is
    zero to rounding), dG / dy (G = log((size + d) / (size - d)), increasing), the band, u (None at a fixed
    power), r = F / (u^2 e^u) where the power is free (0 at the clip), (dt / dy) / t, log F(u) and r at every
    entry."""

    d: np.ndarray
    size: np.ndarray
    g_y: np.ndarray
    b: np.ndarray
    u: np.ndarray | None
    r: np.ndarray | None
    ty_over_t: np.ndarray
    log_s: np.ndarray | None
    r_all: np.ndarray | None
