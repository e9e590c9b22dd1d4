"""The dominant-residual rule (wirelora's, ``policy.rule = "residual"``; docs/method.md §5): estimate R̂_loc,
R̂_con, R̂_het per group (``residuals.py``) from observables, then greedily apply the action with the largest
predicted reduction per unit of cost (compute for local steps and proximal damping, bits for topology and
sync) until the compute and communication budgets (multiples of the uniform schedule's cost) are spent or
nothing helps. Also the rule on the synthetic quadratic over a grid of regimes (the `regimes` figure's data).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from wirelora.correction import residuals as _res
from wirelora.correction.config import PolicyConfig
from wirelora.correction.plan import (
    GroupPlan,
    compose_plan,
    no_correction_schedule,
    uniform_maps,
    uniform_plan,
)
from wirelora.correction.priority import as_float_array
from wirelora.network.topology import num_edges_for_density

__all__ = [
    "Observables",
    "estimate_residuals",
    "plan_compute",
    "plan_comm_bits",
    "residual_plan",
    "REGIME_POLICY",
    "regime_grid",
    "quadratic_observables",
    "quadratic_policy_inputs",
]


@dataclasses.dataclass(frozen=True)
class Observables:
    """What the residual rule sees per group, arrays [G].

    grad_energy : ‖mean_i ∇L_i(B̄)‖² (the initial gap's gradient). grad_spread : mean_i ‖∇L_i(B̄) − mean‖² (ζ²
    and the drift). disagreement : mean_i ‖B_i − B̄‖² (D0). smoothness : L̂ (λ_max of the Fisher, the
    Gauss-Newton curvature). mu : μ̂ (None: pl_ratio · L̂).
    """

    grad_energy: np.ndarray
    grad_spread: np.ndarray
    disagreement: np.ndarray
    smoothness: np.ndarray
    mu: np.ndarray | None = None

    def __post_init__(self):
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            a = np.atleast_1d(as_float_array(v))
            if np.any(~np.isfinite(a)) or np.any(a < 0):
                raise ValueError(f"observables.{f.name}={a.tolist()!r}: must be finite and >= 0")
            object.__setattr__(self, f.name, a)


def estimate_residuals(
    obs: Observables, plan: GroupPlan, *, rounds: int, step_size, rho_fn: Callable, pl_ratio: float = 0.1
) -> np.ndarray:
    """R̂ = (R_loc, R_con, R_het) per group under ``plan`` : [G, 3].

    C_init = L̂ ‖∇L(B̄)‖² / (2 μ̂²) (‖B̄ − B*‖ ≤ ‖∇L‖/μ under strong convexity); ζ² = I = the gradient spread;
    ρ = rho_fn(γ_g) : [G].
    """
    mu = obs.mu if obs.mu is not None else pl_ratio * obs.smoothness
    mu = np.maximum(mu, 1e-12)
    c_init = obs.smoothness * obs.grad_energy / (2.0 * mu**2)
    return _res.residual_terms(
        rounds=rounds,
        local_steps=plan.local_steps,
        step_size=step_size,
        mu=mu,
        smoothness=obs.smoothness,
        c_init=c_init,
        rho=as_float_array(rho_fn(plan.gamma)),
        disagreement=obs.disagreement,
        drift=obs.grad_spread,
        zeta2=obs.grad_spread,
        prox=plan.prox,
        sync_period=plan.sync_period,
    )


def plan_compute(
    plan: GroupPlan, compute_units, *, prox_overhead: float = PolicyConfig.prox_overhead
) -> np.ndarray:
    """Compute per round per group : [G] = n_g · units_g · (1 + overhead if λ_g > 0)."""
    return plan.local_steps * as_float_array(compute_units) * (1.0 + prox_overhead * (plan.prox > 0))


def plan_comm_bits(plan: GroupPlan, payload_bits, edges_fn: Callable) -> np.ndarray:
    """Bits per round per group : [G] = 2 · payload_g · |E(γ_g)| / H_g (both directions of each edge)."""
    edges = np.asarray([edges_fn(float(g)) for g in plan.gamma], dtype=float)
    return 2.0 * as_float_array(payload_bits) * edges / plan.sync_period


def _step(plan: GroupPlan, group: int, action: str, cfg: PolicyConfig) -> GroupPlan | None:
    """The plan after one action on one group, or None if the knob is at its bound."""
    if action == "local":
        if plan.local_steps[group] >= cfg.n_max:
            return None
        v = plan.local_steps.copy()
        v[group] += 1
        return plan.replace(local_steps=v)
    if action == "prox":
        if plan.prox[group] >= cfg.lambda_max * (1 - 1e-9) or cfg.lambda_max == 0:
            return None
        v = plan.prox.copy()
        v[group] = min(cfg.lambda_max, v[group] + cfg.lambda_max / cfg.prox_levels)
        return plan.replace(prox=v)
    if action == "topology":
        if plan.gamma[group] >= 1.0 - 1e-9:
            return None
        v = plan.gamma.copy()
        v[group] = min(1.0, v[group] + cfg.gamma_step)
        return plan.replace(gamma=v)
    if plan.sync_period[group] <= 1:  # sync
        return None
    v = plan.sync_period.copy()
    v[group] -= 1
    return plan.replace(sync_period=v)


def residual_plan(
    obs: Observables,
    cfg: PolicyConfig,
    *,
    rounds: int,
    step_size,
    rho_fn: Callable,
    payload_bits,
    compute_units,
    edges_fn: Callable,
    max_actions: int = 200,
) -> GroupPlan:
    """The dominant-residual rule: greedy actions by predicted reduction per unit cost, within the budgets.

    Starts from the cheapest schedule for the knobs of ``cfg.arm`` (n_min, λ = 0, γ_min, H_max; the other
    knobs at the uniform schedule's values). Each step scores every (group, action) as
    ΔR̂_g / (Δcompute / compute budget + Δbits / comm budget), applies the best one that fits the budgets, and
    stops when none fits or the best reduction is below ``min_gain`` of the total. Budgets are per round,
    ``cfg.compute_budget`` / ``cfg.comm_budget`` times the uniform schedule's cost.

    rho_fn(γ : [G]) -> ρ : [G]; edges_fn(γ) -> number of edges; payload_bits, compute_units : [G].
    """
    g = as_float_array(payload_bits).size
    if cfg.arm == "no_correction":
        return no_correction_schedule(g)
    uniform = uniform_plan(g, cfg)
    if cfg.arm == "uniform":
        return uniform
    start = {
        "local": np.full(g, cfg.n_min, dtype=np.int64),
        "prox": np.zeros(g),
        "topology": np.full(g, cfg.gamma_min),
        "sync": np.full(g, cfg.sync_max, dtype=np.int64),
    }
    u = uniform_maps(g, cfg)

    def compute(p: GroupPlan) -> float:
        return float(plan_compute(p, compute_units, prox_overhead=cfg.prox_overhead).sum())

    plan = compose_plan(np.full(g, 1.0 / g), start, u, cfg.actions)
    compute_cap = cfg.compute_budget * compute(uniform)
    comm_cap = cfg.comm_budget * plan_comm_bits(uniform, payload_bits, edges_fn).sum()

    def total(p: GroupPlan) -> np.ndarray:
        return estimate_residuals(
            obs, p, rounds=rounds, step_size=step_size, rho_fn=rho_fn, pl_ratio=cfg.pl_ratio
        ).sum(axis=-1)  # [G]

    chosen: list[tuple[int, str]] = []
    current = total(plan)
    for _ in range(max_actions):
        used_compute = compute(plan)
        used_comm = plan_comm_bits(plan, payload_bits, edges_fn).sum()
        best = None
        for a in cfg.actions:
            for grp in range(g):
                cand = _step(plan, grp, a, cfg)
                if cand is None:
                    continue
                d_comp = compute(cand) - used_compute
                d_comm = plan_comm_bits(cand, payload_bits, edges_fn).sum() - used_comm
                if used_compute + d_comp > compute_cap * (1 + 1e-9) or used_comm + d_comm > comm_cap * (
                    1 + 1e-9
                ):
                    continue
                gain = float(current.sum() - total(cand).sum())
                if gain <= cfg.min_gain * current.sum():
                    continue
                cost = max(d_comp, 0.0) / max(compute_cap, 1e-300) + max(d_comm, 0.0) / max(comm_cap, 1e-300)
                score = gain / max(cost, 1e-12)
                if best is None or score > best[0]:
                    best = (score, grp, a, cand)
        if best is None:
            break
        _, grp, a, plan = best
        chosen.append((grp, a))
        current = total(plan)
    share = current / current.sum() if current.sum() > 0 else np.full(g, 1.0 / g)
    return plan.replace(priority=share, actions=tuple(chosen))


# The residual rule's settings on the synthetic quadratic (the regime test and figure): two local steps at
# least (one step with exact averaging has no client drift to damp), a proximal weight that matters at
# η = 0.5.
REGIME_POLICY = PolicyConfig(rule="residual", sync_max=1, lambda_max=0.2, n_min=2, n_max=6, gamma_min=0.2)


def regime_grid(
    *,
    mu=0.1,
    zeta=0.0,
    rho=0.5,
    init_gap=1.0,
    disagreement=0.0,
    smoothness=1.0,
    rounds: int = 20,
    step_size: float = 0.5,
    num_devices: int = 6,
    cfg: PolicyConfig | None = None,
    seed: int = 0,
) -> dict:
    """The dominant-residual rule's first action on the synthetic quadratic over a grid of regimes.

    Any of mu, zeta, rho, init_gap, disagreement may be a sequence (a grid axis) or a scalar. Returns
    ``{"axes": {name: values}, "action": str array [*grid], "dominant": str array [*grid] (loc|con|het),
    "residuals": float array [*grid, 3]}``, the data of the `regimes` figure.
    """
    cfg = cfg or REGIME_POLICY
    params = {"mu": mu, "zeta": zeta, "rho": rho, "init_gap": init_gap, "disagreement": disagreement}
    axes = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in params.items() if np.ndim(v) > 0}
    shape = tuple(len(v) for v in axes.values())
    action = np.empty(shape, dtype=object)
    dominant = np.empty(shape, dtype=object)
    resid = np.empty((*shape, 3))
    for idx in np.ndindex(*shape):
        point = dict(params)
        point.update({k: float(v[i]) for (k, v), i in zip(axes.items(), idx)})
        q = _res.SyntheticQuadratic(
            num_devices=num_devices, smoothness=smoothness, gamma_min=cfg.gamma_min, **point
        )
        first, terms = _first_action(q, cfg, rounds=rounds, step_size=step_size, seed=seed)
        action[idx] = first
        resid[idx] = terms
        dominant[idx] = _res.RESIDUALS[int(np.argmax(terms))]
    return {
        "axes": {k: v.tolist() for k, v in axes.items()},
        "action": action.astype(str),
        "dominant": dominant.astype(str),
        "residuals": resid,
    }


def quadratic_observables(state: _res.QuadraticState) -> Observables:
    """The synthetic quadratic's observables as a one-group Observables."""
    o = state.observables()
    return Observables(
        grad_energy=np.array([o["grad_energy"]]),
        grad_spread=np.array([o["grad_spread"]]),
        disagreement=np.array([o["disagreement"]]),
        smoothness=np.array([o["smoothness"]]),
        mu=np.array([o["mu"]]),
    )


def quadratic_policy_inputs(state: _res.QuadraticState) -> dict:
    """rho_fn, edges_fn, payload and compute units for the one-group synthetic quadratic."""
    m = state.targets.shape[0]
    return {
        "rho_fn": state.rate,
        "edges_fn": lambda gamma: num_edges_for_density(m, gamma),
        "payload_bits": np.array([float(state.targets.shape[1])]),
        "compute_units": np.array([float(state.targets.shape[1])]),
    }


def _first_action(q: _res.SyntheticQuadratic, cfg: PolicyConfig, *, rounds: int, step_size: float, seed: int):
    state = q.build(seed=seed)
    obs = quadratic_observables(state)
    plan = residual_plan(obs, cfg, rounds=rounds, step_size=step_size, **quadratic_policy_inputs(state))
    start = compose_plan(
        np.ones(1),
        {
            "local": np.array([cfg.n_min]),
            "prox": np.zeros(1),
            "topology": np.array([cfg.gamma_min]),
            "sync": np.array([cfg.sync_max]),
        },
        uniform_maps(1, cfg),
        cfg.actions,
    )
    terms = estimate_residuals(
        obs,
        start,
        rounds=rounds,
        step_size=step_size,
        rho_fn=quadratic_policy_inputs(state)["rho_fn"],
        pl_ratio=cfg.pl_ratio,
    )[0]
    return (plan.actions[0][1] if plan.actions else "none"), terms
