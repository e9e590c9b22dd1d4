"""What a user would compare the optimal allocation with: equal split, payload-proportional split, and a
general-purpose nonlinear solver (scipy SLSQP) on the same min-max problem.

Payload arrays may be [num_links] or [num_groups, num_links]; unused entries (zero payload) get no bandwidth.
"""

from __future__ import annotations

import numpy as np

from wirelora.allocation import closed_form as ref

__all__ = ["equal_split", "proportional_split", "slsqp_minmax"]


def equal_split(payload_bits, total_bandwidth_hz) -> np.ndarray:
    """The same bandwidth for every used entry. Returns bandwidth_hz of the payload's shape."""
    q = np.asarray(payload_bits, dtype=float)
    used = q > 0
    return np.where(used, float(total_bandwidth_hz) / max(int(used.sum()), 1), 0.0)


def proportional_split(payload_bits, total_bandwidth_hz) -> np.ndarray:
    """Bandwidth proportional to the payload (ignores the channel); bandwidth_hz of the payload's shape."""
    q = np.asarray(payload_bits, dtype=float)
    return float(total_bandwidth_hz) * q / q.sum()


def slsqp_minmax(payload_bits, link_snr_hz, total_bandwidth_hz, *, max_iter: int = 500):
    """Min-max latency by scipy.optimize.minimize(method="SLSQP") on (shares, T), from the equal split.

    The formulation a user would write: minimise T s.t. latency_e(share_e * B) <= T, sum(share) = 1.
    Returns (round_latency_s, bandwidth_hz, result), the latency evaluated exactly at the returned bandwidths.
    """
    from scipy.optimize import minimize

    q, a, total = ref.prepare(payload_bits, link_snr_hz, total_bandwidth_hz)
    used = q > 0
    qu, au = q[used], a[used]
    n = qu.size
    ln2 = np.log(2.0)

    def latency(x):  # x = shares [n]
        b = np.maximum(x, 1e-12) * total
        return qu / (b * np.log1p(au / b) / ln2)

    def d_latency(x):  # d latency_e / d share_e [n]
        b = np.maximum(x, 1e-12) * total
        rate = b * np.log1p(au / b) / ln2
        d_rate = (np.log1p(au / b) - au / (au + b)) / ln2
        return -qu * d_rate * total / rate**2

    x0 = np.full(n, 1.0 / n)
    t0 = float(np.max(latency(x0)))
    # time in units of the equal split's latency so that T ~ 1; analytic Jacobians (numerical ones make it
    # O(n) times slower still)
    eq_jac = np.append(np.ones(n), 0.0)
    cons = [
        {"type": "eq", "fun": lambda v: np.sum(v[:n]) - 1.0, "jac": lambda v: eq_jac},
        {
            "type": "ineq",
            "fun": lambda v: v[n] - latency(v[:n]) / t0,
            "jac": lambda v: np.hstack([np.diag(-d_latency(v[:n]) / t0), np.ones((n, 1))]),
        },
    ]
    grad = np.append(np.zeros(n), 1.0)
    res = minimize(
        lambda v: v[n],
        np.append(x0, 1.0),
        jac=lambda v: grad,
        method="SLSQP",
        bounds=[(1e-12, 1.0)] * n + [(0.0, None)],
        constraints=cons,
        options={"maxiter": max_iter, "ftol": 1e-12},
    )
    shares = np.clip(res.x[:n], 0.0, None)
    shares = shares / shares.sum()
    b = np.zeros_like(q)
    b[used] = shares * total
    return float(np.max(latency(shares))), b, res
