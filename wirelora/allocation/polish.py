"""Polishing a solver's allocation onto the feasible set, and the re-check of every constraint to 1e-9
relative (docs/method.md §7): an interior-point answer meets its constraints only to the solver's
tolerance (1e-8), and with tight caps may even score below the true constrained optimum.

- ``polish_band``: b >= b_lo (the latency caps, the power limits) and sum b <= B_tot.
- ``polish_coupled``: the budget and energy cap (sums of latencies, convex in b): if violated, move along
  the segment to a closed-form allocation that meets both, to the nearest point that meets them.
- ``violations``: what an allocation breaks beyond the tolerance (empty: it is feasible).
"""

from __future__ import annotations

import numpy as np

from wirelora.allocation import closed_form as cf
from wirelora.errors import InfeasibleError, SolverError
from wirelora.wireless.rates import shannon_rate_bps

__all__ = ["TOL", "polish_band", "polish_coupled", "violations"]

TOL = 1e-9


def polish_band(b, b_lo, total):
    """b moved onto {b >= b_lo, sum b <= total}: up to b_lo, then any excess taken from the room above it."""
    b = np.maximum(b, b_lo)
    excess = float(np.sum(b)) - total
    if excess > 0:
        room = b - b_lo
        if np.sum(room) < excess:
            raise SolverError("the solver's allocation cannot be moved onto the band and the caps")
        b = b - room * (excess / np.sum(room))
    return b


def _sums(req, b):
    """(latency sum for the budget, energy) of the used entries at bandwidths b ([n])."""
    lat = req.q[req.used] / shannon_rate_bps(b, req.a[req.used])
    spare = None
    if req.budget is not None:
        spare = float(np.sum(lat)) * req.budget.beta_tau + float(np.sum(req.q))
    energy = None if req.energy_cap is None else float(np.sum(req.p[req.used] * lat))
    return spare, energy


def violations(req, b) -> list[str]:
    """The constraints of a plain (fixed-power FDMA) problem that b ([n], used entries) breaks beyond TOL."""
    out = []
    u = req.used
    if np.sum(b) > req.total * (1 + TOL) or np.any(b < 0):
        out.append("total_bandwidth_hz")
    lat = req.q[u] / shannon_rate_bps(b, req.a[u])
    if not np.all(np.isfinite(lat)):
        out.append("a latency is not finite")
    if req.cap is not None and np.any(lat > req.cap[u] * (1 + TOL)):
        out.append("latency_cap_s")
    cost, energy = _sums(req, b)
    if cost is not None and cost > req.budget.total_cost * (1 + TOL):
        out.append("budget")
    if energy is not None and energy > req.energy_cap * (1 + TOL):
        out.append("energy_cap_j")
    return out


def polish_coupled(req, b):
    """b ([n]) with the band and caps polished, then, if the budget or energy cap is broken, moved towards a
    closed-form allocation that meets both. SolverError if no point of the segment does."""
    u = req.used
    b_lo = np.zeros_like(b) if req.cap is None else cf.min_bandwidth_hz(req.q[u] / req.cap[u], req.a[u])
    b = polish_band(b, b_lo, req.total)
    if not violations(req, b):
        return b
    for target in _anchors(req):
        if violations(req, target):
            continue
        lo, hi = 0.0, 1.0  # the feasible part of the segment is an interval containing 1 (convex sums)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if not violations(req, (1 - mid) * b + mid * target) else (mid, hi)
        return (1 - hi) * b + hi * target
    return b


def _anchors(req):
    """Closed-form allocations meeting one coupling constraint optimally (candidates meeting both)."""
    q, a, total, cap = req.q, req.a, req.total, req.cap
    ones = np.ones_like(q)
    out = []
    for v, limit in (
        (req.p, req.energy_cap),
        (
            ones,
            None if req.budget is None else (req.budget.total_cost - float(np.sum(q))) / req.budget.beta_tau,
        ),
    ):
        if v is None or limit is None:
            continue
        try:
            b = cf.constrained_weighted_latency(q, a, total, ones, v, limit, latency_cap_s=cap)[1]
        except InfeasibleError:
            continue
        out.append(b[req.used])
    return out
