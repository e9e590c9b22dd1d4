"""``allocate``: the closed form (closed_form.py, the default solver) wherever one exists, else the cvxpy
``BandwidthAllocator`` (cvx.py). docs/method.md §7.

The closed form covers every objective with at most one of budget and energy cap (exact, and robust on any
instance); the cvxpy problem is used otherwise or on request (method="cvxpy").
"""

from __future__ import annotations

import time
from collections import OrderedDict

import numpy as np

from wirelora.allocation import closed_form as cf
from wirelora.allocation.cvx import BandwidthAllocator
from wirelora.allocation.problem import Allocation, AllocationProblem, check_feasible, evaluate
from wirelora.allocation.round_model import RoundInputs
from wirelora.allocation.round_solve import solve_round

__all__ = ["allocate"]

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 32


def _cached_allocator(shape, objective, flags) -> BandwidthAllocator:
    key = (shape, objective, flags)
    solver = _CACHE.get(key)
    if solver is None:
        solver = BandwidthAllocator(
            shape, objective, latency_cap=flags[0], energy_cap=flags[1], budget=flags[2]
        )
        _CACHE[key] = solver
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return solver


def allocate(
    payload_bits,
    link_snr_hz,
    total_bandwidth_hz,
    *,
    objective: str = "minmax",
    weights=None,
    latency_cap_s=None,
    energy_cap_j=None,
    tx_power_w=None,
    budget=None,
    max_tx_power_w=None,
    compute_time_s=None,
    compute_cycles=None,
    samples=None,
    cpu_hz=None,
    max_cpu_hz=None,
    kappa=None,
    access: str = "fdma",
    time_weight_j_per_s=None,
    method: str = "auto",
) -> Allocation:
    """Allocate the total bandwidth over the links (and layer groups) optimally.

    payload_bits : [L] or [G, L] bits (0 = that group does not use that link: it gets no bandwidth).
    link_snr_hz : p h / N0 in Hz, broadcastable to the payload ([L] for a [G, L] payload).
    total_bandwidth_hz : B_tot (Hz). objective : "minmax" | "weighted" | "energy" | "energy_time".
    weights : for "weighted": [G] (one per group), or broadcastable to the payload; > 0 on used entries.
    latency_cap_s : tau_max, scalar or broadcastable (eq. 12b). energy_cap_j : cap on sum p * latency (J).
    tx_power_w : transmit power (W), scalar or broadcastable; needed for "energy" and energy_cap_j.
    budget : Budget(total_cost, beta_tau), a pair or a mapping:
    sum(payload + beta_tau * latency) <= total_cost.
    The round model (round_model.py; none of it combines with budget or energy_cap_j):
    max_tx_power_w : the transmit power becomes a variable in [0, max_tx_power_w] (link_snr_hz is then the
    SNR over 1 Hz at max_tx_power_w); "energy" then minimises sum p * latency over power and bandwidth under
    latency_cap_s (power.py). For "minmax" (and "weighted") full power is optimal: a higher power only
    shortens every upload, so the result is the fixed-power optimum at max_tx_power_w.
    compute_time_s : computation before the upload (s), broadcastable; or compute_cycles (per sample) x
    samples CPU cycles at cpu_hz (fixed) or at a variable frequency <= max_cpu_hz; kappa : the computation
    energy kappa * cycles * f^2 counts in "energy" (compute.py). A round then takes max(t_cmp + t_up) and
    latency_cap_s caps t_cmp + t_up. The fastest CPU is optimal for "minmax" and "weighted".
    access : "fdma" (sub-bands) or "tdma" (time shares of a frame over the whole band, tdma.py).
    time_weight_j_per_s : for "energy_time": minimise energy + time_weight_j_per_s * round latency (J).
    method : "auto" (the closed form, closed_form.py, wherever it exists: every objective with at most one of
    budget and energy cap, and every round model; cvxpy otherwise), "cvxpy" or "reference".

    Raises ValueError (bad input), InfeasibleError (naming the link or constraint), SolverError (not optimal).
    """
    if method not in ("auto", "cvxpy", "reference"):
        raise ValueError(f"method={method!r}: must be one of auto, cvxpy, reference")
    inputs = RoundInputs(  # in the dataclass's field order
        max_tx_power_w,
        compute_time_s,
        compute_cycles,
        samples,
        cpu_hz,
        max_cpu_hz,
        kappa,
        access,
        time_weight_j_per_s,
    )
    req = AllocationProblem.build(
        payload_bits,
        link_snr_hz,
        total_bandwidth_hz,
        objective=objective,
        weights=weights,
        latency_cap_s=latency_cap_s,
        energy_cap_j=energy_cap_j,
        tx_power_w=tx_power_w,
        budget=budget,
        round_inputs=inputs,
    )
    t0 = time.perf_counter()
    if req.round is not None:
        if method == "cvxpy":
            from wirelora.allocation.cvx_round import solve_round_cvxpy

            return solve_round_cvxpy(req, t0)
        return solve_round(req, t0)
    check_feasible(req)  # the one feasibility check of this solve
    closed = req.budget is None or req.energy_cap is None  # at most one coupling constraint besides the band
    if method == "reference" and not closed:
        raise ValueError(
            "method='reference': no closed form with both a budget and an energy cap (use method='cvxpy')"
        )
    if method == "cvxpy" or not closed:
        return _cached_allocator(req.q.shape, objective, req.flags)._solve(req, t0)
    return evaluate(_closed_form(req), req, method="reference", solve_time_s=time.perf_counter() - t0)


def _extra_constraint(req: AllocationProblem):
    """The one latency-sum constraint sum v lat <= limit, or (None, None)."""
    if req.budget is not None:
        spare = req.budget.total_cost - float(np.sum(req.q))
        return np.ones_like(req.q), spare / req.budget.beta_tau
    if req.energy_cap is not None:
        return req.p, req.energy_cap
    return None, None


def _closed_form(req: AllocationProblem) -> np.ndarray:
    """The optimal bandwidths by the reference (closed form / nested 1-D roots); needs at most one of
    budget and energy cap."""
    extra, limit = _extra_constraint(req)
    if req.objective == "minmax":
        if extra is None and req.cap is None:
            return cf.minmax_latency(req.q, req.a, req.total)[1]
        if extra is None:
            t_star, b = cf.minmax_latency(req.q, req.a, req.total)
            if t_star <= float(np.min(req.cap[req.used])):
                return b  # every cap is met at the common finish time: still optimal
            extra, limit = np.ones_like(req.q), np.inf
        return cf.constrained_minmax_latency(req.q, req.a, req.total, extra, limit, latency_cap_s=req.cap)[1]
    w = req.weights_for(req.objective)
    if extra is None:
        return cf.weighted_latency(req.q, req.a, req.total, w, latency_cap_s=req.cap)[1]
    return cf.constrained_weighted_latency(req.q, req.a, req.total, w, extra, limit, latency_cap_s=req.cap)[1]
