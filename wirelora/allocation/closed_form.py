"""The closed-form allocator, the default solver of ``allocate`` (docs/method.md §7), vectorised NumPy/SciPy.

Exact wherever it applies (every objective with at most one of budget and energy cap); the cvxpy allocator's
ground truth and per-link scales.

Notation: a_e = link_snr_hz (Hz), q_e = payload_bits, b_e = bandwidth_hz, rate R(b) = b log2(1 + a / b).
With x = b / a, R = a phi(x) / ln 2 where phi(x) = x ln(1 + 1/x) (increasing, concave, phi(inf) = 1).

- ``min_bandwidth_hz``: the least b with R(b) >= rate, b = a / (u - 1), u = -W_{-1}(-k e^{-k}) / k,
  k = rate ln2 / a (Lambert W, lower branch; exists only below the rate ceiling a / ln 2), polished by Newton
  steps.
- ``minmax_latency``: the common finish time T* solving sum_e b_min(q_e / T) = B_tot (convex and decreasing in
  T: Newton from below), every used link finishing together at T*.
- ``weighted_latency``: min sum_e w_e q_e / R_e(b_e) s.t. sum b_e = B_tot, b_e >= b_min(q_e / cap): by KKT
  w_e q_e ln2 psi(x_e) / a_e^2 = lambda with psi = phi' / phi^2 (decreasing), clipped at the caps; lambda is a
  bracketed root in log lambda. With weights = tx power this is also the min-energy allocation under a
  latency cap.

Payload arrays may be [num_links] or [num_groups, num_links]; link_snr_hz broadcasts against them. An entry
with zero payload is unused: it gets zero bandwidth and zero latency.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import lambertw

from wirelora.errors import InfeasibleError
from wirelora.wireless.rates import shannon_rate_bps

__all__ = [
    "rate_ceiling_bps",
    "min_bandwidth_hz",
    "minmax_latency",
    "weighted_latency",
    "constrained_weighted_latency",
    "constrained_minmax_latency",
    "prepare",
]

_LN2 = np.log(2.0)


def rate_ceiling_bps(link_snr_hz):
    """The rate with unlimited bandwidth: lim_{b->inf} b log2(1 + a/b) = a / ln 2."""
    return np.asarray(link_snr_hz, dtype=float) / _LN2


def min_bandwidth_hz(rate_bps, link_snr_hz):
    """Least bandwidth b >= 0 with b log2(1 + a / b) >= rate (broadcasting); inf where rate >= a / ln 2."""
    r = np.asarray(rate_bps, dtype=float)
    a = np.asarray(link_snr_hz, dtype=float)
    r, a = np.broadcast_arrays(r, a)
    k = np.where(a > 0, r * _LN2 / np.where(a > 0, a, 1.0), np.inf)  # needed nats/s over the ceiling
    ok = (r > 0) & (k < 1.0)
    kk = np.where(ok, k, 0.5)
    # z = u - 1 = a / b solves log1p(z) = k z (the non-trivial root); W_{-1} gives it, Newton polishes it
    # (lambertw loses digits near the branch point k -> 1, where z -> 0).
    u = -lambertw(-kk * np.exp(-kk), k=-1).real / kk
    # near k -> 1 lambertw is inaccurate; z = 2(1 - k) is the series' first term, just left of the root
    z = np.fmax(u - 1.0, 2.0 * (1.0 - kk))  # fmax: lambertw may return nan at the branch point
    for _ in range(8):
        h = np.log1p(z) - kk * z
        dh = 1.0 / (1.0 + z) - kk
        step = np.where(dh < 0, h / np.where(dh < 0, dh, -1.0), 0.0)
        z = np.maximum(z - step, 0.5 * z)
        if not np.any(np.abs(step) > 1e-15 * z):  # usually after one step: lambertw is already accurate
            break
    b = a / z
    return np.where(ok, b, np.where(r > 0, np.inf, 0.0))


def _floats(field: str, values) -> np.ndarray:
    try:  # values that are not numbers: a ValueError naming the field
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{field}={values!r}: must be an array of numbers ({exc})") from None


def prepare(payload_bits, link_snr_hz, total_bandwidth_hz):
    """Validate and broadcast: returns (q, a, B) with q, a float arrays of the payload's shape and B a float.
    Raises ValueError naming the field and the first bad value."""
    q = _floats("payload_bits", payload_bits)
    if q.ndim not in (1, 2) or q.size == 0:
        raise ValueError(
            f"payload_bits: must be a non-empty [num_links] or [num_groups, num_links] array, "
            f"got shape {q.shape}"
        )
    _check_array("payload_bits", q, allow_zero=True)
    if not np.any(q > 0):
        raise ValueError("payload_bits: every entry is 0 (no link to allocate)")
    a = _floats("link_snr_hz", link_snr_hz)
    try:
        a = np.broadcast_to(a, q.shape)
    except ValueError:
        raise ValueError(
            f"link_snr_hz: shape {np.shape(link_snr_hz)} does not broadcast to the payload's {q.shape}"
        ) from None
    _check_array("link_snr_hz", np.where(q > 0, a, 1.0), allow_zero=False)
    total = _scalar("total_bandwidth_hz", total_bandwidth_hz)
    return q, np.array(a), total


def minmax_latency(payload_bits, link_snr_hz, total_bandwidth_hz):
    """The min-max (common finish time) allocation in closed form.

    payload_bits : [L] or [G, L] bits (0 = unused); link_snr_hz : broadcastable (Hz); total_bandwidth_hz : Hz.
    Returns (round_latency_s, bandwidth_hz) with bandwidth_hz of the payload's shape, summing to the total.
    """
    q, a, total = prepare(payload_bits, link_snr_hz, total_bandwidth_hz)
    used = q > 0
    qu, au = q[used], a[used]  # [n]
    t_floor = float(np.max(qu * _LN2 / au))  # below this some link cannot finish even with all bandwidth

    def need(t):  # total bandwidth needed to finish every link by t, and its derivative in t
        b = min_bandwidth_hz(qu / t, au)
        # b ln(1 + a/b) = c = q ln2 / t  =>  db/dt = -(c / t) / phi'(b/a)
        db_dt = -(qu * _LN2 / t**2) / _dphi(b / au)
        return float(np.sum(b)), float(np.sum(db_dt))

    # upper bracket: the equal split finishes by t_eq, so need(t_eq) <= total
    b_eq = total / qu.size
    t_hi = float(np.max(qu / shannon_rate_bps(b_eq, au)))
    t, val, slope = _lower_bracket(t_floor, t_hi, need, total)
    if t is None:  # the optimum lies within 1e-13 (relative) of the floor
        t_star = t_floor * (1 + 1e-13)
    else:
        # need(t) is convex and decreasing (b_min is convex increasing in the rate, the rate convex in t), so
        # Newton from the left of the root never overshoots: iterates rise monotonically to T*
        for _ in range(100):
            t_next = t - (val - total) / slope
            if not np.isfinite(t_next) or t_next <= t or t_next > t_hi:
                break
            converged = t_next - t <= 1e-15 * t
            t = t_next
            if converged:
                break
            val, slope = need(t)
        t_star = t
    b, rate = _spread(q, used, au, min_bandwidth_hz(qu / t_star, au), total)
    return float(np.max(qu / rate)), b


def weighted_latency(payload_bits, link_snr_hz, total_bandwidth_hz, weights, *, latency_cap_s=None):
    """min sum w q / R(b) s.t. sum b = total, latency <= cap, in closed form (KKT).

    weights : broadcastable to the payload (for [G, L] payloads a [G] vector is read as one weight per group),
    > 0 on used entries. latency_cap_s : None or a scalar / broadcastable cap (s).
    Returns (objective, bandwidth_hz) with objective = sum w * latency (s).
    """
    q, a, total = prepare(payload_bits, link_snr_hz, total_bandwidth_hz)
    w = broadcast_weights(weights, q)
    used = q > 0
    qu, au, wu = q[used], a[used], w[used]
    x_min = _cap_x_min(qu, au, q, latency_cap_s, used)
    if latency_cap_s is not None:
        if not np.all(np.isfinite(x_min)) or np.sum(au * x_min) > total:
            raise InfeasibleError(
                "latency_cap_s: a link cannot meet its cap, or the caps need more than total_bandwidth_hz"
            )
    x = _weighted_x(qu, au, wu, total, x_min)
    b, rate = _spread(q, used, au, au * x, total)
    return float(np.sum(wu * qu / rate)), b


def _weighted_x(qu, au, wu, total, x_min):
    """x = b / a minimising sum w q / R s.t. sum a x = total, x >= x_min (all [n]); KKT root in log lambda."""
    coef = wu * qu * _LN2 / au**2  # lambda = coef * psi(x)

    def x_of(lam):
        return np.maximum(_psi_inverse(lam / coef), x_min)

    def excess(log_lam):
        return np.log(np.sum(au * x_of(np.exp(log_lam))) / total)

    # lambda_lo: some link alone takes all the bandwidth (sum >= total); lambda_hi: every link takes <= 1/n
    n = qu.size
    lam_lo = float(np.min(coef * _psi(total / au)))
    lam_hi = float(np.max(coef * _psi(total / (n * au))))
    for _ in range(60):  # the caps can keep the sum above the total at lam_hi: push it up
        if excess(np.log(lam_hi)) < 0:
            break
        lam_hi *= 1e3
    if excess(np.log(lam_hi)) >= 0:  # the caps alone use (all but nothing of) the band
        return x_min
    return x_of(np.exp(brentq(excess, np.log(lam_lo), np.log(lam_hi), xtol=1e-14, rtol=1e-15, maxiter=300)))


def _spread(q, used, au, bu, total):
    """(bandwidth_hz of the payload's shape, rate of the used entries) from the used entries' bandwidths bu,
    rescaled so that they sum to the total exactly (absorbing a root's last-digit error)."""
    b = np.zeros_like(q)
    b[used] = bu * (total / np.sum(bu))
    return b, shannon_rate_bps(b[used], au)


def _latency_of_x(qu, au, x):
    return qu * _LN2 / (au * _phi(x))


def _cap_x_min(qu, au, q, latency_cap_s, used):
    if latency_cap_s is None:
        return np.zeros_like(qu)
    cap = np.broadcast_to(np.asarray(latency_cap_s, dtype=float), q.shape)[used]
    return min_bandwidth_hz(qu / cap, au) / au


def constrained_weighted_latency(
    payload_bits, link_snr_hz, total_bandwidth_hz, weights, extra_weights, limit, *, latency_cap_s=None
):
    """min sum w lat s.t. sum b = total, lat <= cap, sum v lat <= limit (v = extra_weights), in closed form.

    One extra linear constraint on the latencies covers the budget (v = 1, limit = (C - sum q) / beta_tau) and
    the energy cap (v = p, limit = E). Lagrangian: the weighted problem with weights w + nu v; nu >= 0 is the
    root of sum v lat(nu) = limit (0 if the constraint is slack). Returns (objective, bandwidth_hz).
    Raises InfeasibleError if even nu -> inf (min sum v lat) exceeds the limit.
    """
    q, a, total = prepare(payload_bits, link_snr_hz, total_bandwidth_hz)
    used = q > 0
    qu, au = q[used], a[used]
    wu = broadcast_weights(weights, q)[used]
    vu = broadcast_weights(extra_weights, q)[used]
    x_min = _cap_x_min(qu, au, q, latency_cap_s, used)
    if not np.all(np.isfinite(x_min)) or np.sum(au * x_min) > total:
        raise InfeasibleError("latency_cap_s: the caps alone need more than total_bandwidth_hz")

    def extra(nu):
        x = _weighted_x(qu, au, wu + nu * vu, total, x_min)
        return x, float(np.sum(vu * _latency_of_x(qu, au, x)))

    x, used_limit = extra(0.0)
    if used_limit > limit:
        x_inf = _weighted_x(qu, au, vu, total, x_min)  # nu -> inf: the least sum v lat
        if np.sum(vu * _latency_of_x(qu, au, x_inf)) > limit * (1 + 1e-12):
            raise InfeasibleError(
                f"limit={limit:g}: below the least weighted latency sum any allocation reaches"
            )
        # nu in units of the objective's scale: sum w lat / sum v lat
        nu_hi = max(float(np.sum(wu) / np.sum(vu)), 1e-300)
        while extra(nu_hi)[1] > limit and nu_hi < 1e300:
            nu_hi *= 10.0
        nu_lo = nu_hi
        while extra(nu_lo)[1] <= limit and nu_lo > 1e-300:
            nu_lo /= 10.0
        log_nu = brentq(
            lambda ln: np.log(extra(np.exp(ln))[1] / limit),
            np.log(nu_lo),
            np.log(nu_hi),
            xtol=1e-13,
            rtol=1e-15,
            maxiter=300,
        )
        x = extra(np.exp(log_nu))[0]
    b, rate = _spread(q, used, au, au * x, total)
    return float(np.sum(wu * qu / rate)), b


def constrained_minmax_latency(
    payload_bits, link_snr_hz, total_bandwidth_hz, extra_weights, limit, *, latency_cap_s=None
):
    """min T s.t. lat_e <= T, lat <= cap, sum b <= total, sum v lat <= limit, in closed form (nested roots).

    For a fixed T the least bandwidth meeting lat <= min(T, cap) and sum v lat <= limit is separable: x_e =
    max(x_min,e(T), psi^{-1}(a_e^2 / (nu v_e q_e ln2))) with nu >= 0 the root of the latency sum. need(T) is
    decreasing; T* is its root. Returns (round_latency_s, bandwidth_hz).
    """
    q, a, total = prepare(payload_bits, link_snr_hz, total_bandwidth_hz)
    used = q > 0
    qu, au = q[used], a[used]
    vu = broadcast_weights(extra_weights, q)[used]
    cap = None if latency_cap_s is None else np.broadcast_to(np.asarray(latency_cap_s, float), q.shape)[used]
    coef = vu * qu * _LN2 / au**2  # 1 / nu = coef * psi(x)

    def least_x(t):
        tt = t if cap is None else np.minimum(t, cap)
        x_min = min_bandwidth_hz(qu / tt, au) / au
        if not np.all(np.isfinite(x_min)):
            return None
        if np.sum(vu * _latency_of_x(qu, au, x_min)) <= limit:
            return x_min

        def lat_sum(log_nu):
            x = np.maximum(_psi_inverse(1.0 / (np.exp(log_nu) * coef)), x_min)
            return np.log(np.sum(vu * _latency_of_x(qu, au, x)) / limit)

        lo, hi = -5.0, 5.0
        while lat_sum(hi) > 0 and hi < 700:
            hi += 10.0
        while lat_sum(lo) <= 0 and lo > -700:
            lo -= 10.0
        log_nu = brentq(lat_sum, lo, hi, xtol=1e-13, rtol=1e-15, maxiter=300)
        return np.maximum(_psi_inverse(1.0 / (np.exp(log_nu) * coef)), x_min)

    def excess(log_t):
        x = least_x(np.exp(log_t))
        return np.inf if x is None else np.log(np.sum(au * x) / total)

    t_lo, _ = minmax_latency(q, a, total)  # the extra constraint can only slow the round
    if excess(np.log(t_lo)) <= 0:
        t_star = t_lo
    else:
        t_hi = 2.0 * t_lo
        while excess(np.log(t_hi)) > 0:
            t_hi *= 2.0
            if t_hi > 1e12 * t_lo:
                raise InfeasibleError(
                    f"limit={limit:g}: no round latency meets it within the total bandwidth"
                )
        t_star = np.exp(brentq(excess, np.log(t_lo), np.log(t_hi), xtol=1e-14, rtol=1e-15, maxiter=300))
    x = least_x(t_star)
    b, rate = _spread(q, used, au, au * x, total)
    return float(np.max(qu / rate)), b


def broadcast_weights(weights, q: np.ndarray) -> np.ndarray:
    """Weights -> the payload's shape; a [G] vector for a [G, L] payload is one weight per group."""
    w = np.asarray(weights, dtype=float)
    if q.ndim == 2 and w.ndim == 1 and w.shape[0] == q.shape[0] and q.shape[0] != q.shape[1]:
        w = w[:, None]
    elif q.ndim == 2 and w.ndim == 1 and w.shape[0] == q.shape[0] == q.shape[1]:
        raise ValueError(f"weights: shape {w.shape} is ambiguous for a square payload {q.shape}: pass [G, 1]")
    try:
        w = np.broadcast_to(w, q.shape)
    except ValueError:
        raise ValueError(
            f"weights: shape {np.shape(weights)} does not broadcast to the payload's {q.shape}"
        ) from None
    wu = w[q > 0]
    bad = ~(np.isfinite(wu) & (wu > 0))
    if np.any(bad):
        raise ValueError(f"weights={float(wu[bad][0])!r}: must be finite and > 0 on every link with payload")
    return np.array(w)


# --- phi, psi = phi' / phi^2 and its inverse (vectorised Newton in log x) ---


def _phi(x):
    return x * np.log1p(1.0 / x)


def _dphi(x):
    # ln(1 + u) - u / (1 + u), u = 1/x: cancels for large x; there the series
    # sum_k (-1)^k (k-1)/k u^k is exact
    u = 1.0 / x
    direct = np.log1p(u) - u / (1.0 + u)
    series = u * u * (0.5 - u * (2.0 / 3.0 - u * (0.75 - u * (0.8 - u * (5.0 / 6.0)))))
    return np.where(u < 1e-2, series, direct)


def _psi(x):
    return _dphi(x) / _phi(x) ** 2


def _psi_inverse(y):
    """x > 0 with psi(x) = y > 0 (psi decreases from inf to 0); Newton on log psi over log x."""
    y = np.asarray(y, dtype=float)
    log_y = np.log(y)
    t = -0.5 * np.log(2.0 * y)  # psi(x) ~ 1 / (2 x^2) for large x; close enough elsewhere in log space
    for _ in range(60):
        x = np.exp(t)
        ph, dph = _phi(x), _dphi(x)
        g = np.log(dph) - 2.0 * np.log(ph) - log_y
        dg = -1.0 / ((1.0 + x) ** 2 * dph) - 2.0 * x * dph / ph  # d log psi / d log x < 0
        step = np.clip(g / dg, -3.0, 3.0)
        t = t - step
        if np.max(np.abs(step)) < 1e-13:
            break
    return np.exp(t)


def _lower_bracket(t_floor: float, t_hi: float, need, total: float):
    """(t, need(t)) with t in (t_floor, t_hi] and need(t) > total, approaching the floor geometrically; t is
    None if the root is within 1e-13 (relative) of the floor."""
    for rel in (1e-1, 1e-3, 1e-6, 1e-9, 1e-12):
        t = min(t_floor * (1.0 + rel), t_hi)
        val, slope = need(t)
        if val > total:
            return t, val, slope
    return None, None, None


def _check_array(field: str, x: np.ndarray, *, allow_zero: bool) -> None:
    bad = ~np.isfinite(x) | (x < 0 if allow_zero else x <= 0)
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f"[{', '.join(map(str, idx))}]"
        rule = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{field}{where}={float(x[bad][0])!r}: must be finite and {rule}")


def _scalar(field: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field}={value!r}: must be a finite number > 0") from None
    if not (np.isfinite(v) and v > 0) or np.ndim(value) != 0:
        raise ValueError(f"{field}={value!r}: must be a finite number > 0")
    return v
