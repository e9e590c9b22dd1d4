"""Correction policies: per layer group, how many local steps n_g, how much proximal damping λ_g, how dense a
graph γ_g and how often to gossip H_g after a join or leave (docs/method.md §5-§6).

- **Fisher priority** (the paper's Algorithm 1): S_g = λ_max(F_g) · mean_i ‖∇_{B^(g)} L_i‖²_F,
  p(g) = S_g / (Σ S + ε), then n_g = n_min + ⌊(n_max − n_min) p(g)⌋, λ_g = λ_max p(g), γ_g = γ_min + (1 −
  γ_min) p(g) and **[W]** H_g = 1 + ⌊(H_max − 1)(1 − p(g) / max p)⌋ (the top group gossips every round, the
  others less often). The floor in n_g reproduces the paper's Table II with n_min = 1, n_max = 3.
  ``binned=True`` is Table II's low / mid / high classes: thresholds on p(g), a fixed (n, λ, γ, H) per class.
- **Dominant residual** (wirelora's, ``rule="residual"``): estimate R̂_loc, R̂_con, R̂_het per group
  (``residuals.py``) from observables, then greedily apply the action with the largest predicted reduction per
  unit of cost (compute for local steps and proximal damping, bits for topology and sync) until the compute
  and communication budgets (multiples of the uniform schedule's cost) are spent or nothing helps.
- **Uniform**: every group gets p(g) = 1/G in the same maps.
- **Ablation arms** (Table III): which knobs follow the priority; the others keep the uniform value. ``full``:
  all four; ``ls_prox``: n, λ; ``local_steps``: n; ``retain_prox``: λ; ``topology``: γ; ``uniform``: none;
  ``no_correction``: no correction rounds at all (n = 0, no gossip).

The functions take NumPy arrays (torch tensors are converted), so they can run on the trainer's gradients or
on a synthetic problem alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from wirelora.config import (
    check_choice,
    check_nonnegative,
    check_positive,
    check_probability,
    require,
)
from wirelora.correction import residuals as _res
from wirelora.network.topology import num_edges_for_density

__all__ = [
    "ARMS",
    "RULES",
    "ACTIONS",
    "METHODS",
    "PolicyConfig",
    "CorrectionConfig",
    "GroupPlan",
    "Observables",
    "empirical_fisher",
    "top_eigenvalue",
    "gradient_energy",
    "gradient_spread",
    "fisher_score",
    "priorities",
    "priority_schedule",
    "binned_schedule",
    "uniform_schedule",
    "no_correction_schedule",
    "fisher_plan",
    "estimate_residuals",
    "plan_compute",
    "plan_comm_bits",
    "residual_plan",
    "regime_grid",
]

ARMS = ("full", "ls_prox", "local_steps", "retain_prox", "uniform", "topology", "no_correction")
RULES = ("fisher", "residual")
ACTIONS = ("local", "prox", "topology", "sync")  # n ↑, λ ↑, γ ↑, H ↓
METHODS = (
    "proposed", "retrain", "no_correction", "naive", "federaser_d2d", "ewc", "influence_d2d", "kd_unlearn",
)  # fmt: skip

# Which actions (knobs) each arm lets the priority drive; the rest stay at the uniform schedule's values.
_ARM_ACTIONS = {
    "full": ACTIONS,
    "ls_prox": ("local", "prox"),
    "local_steps": ("local",),
    "retain_prox": ("prox",),
    "topology": ("topology",),
    "uniform": (),
    "no_correction": (),
}


def _is_int(x) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool)


@dataclasses.dataclass(frozen=True)
class PolicyConfig:
    """How the correction schedule is chosen (the ``policy:`` section of a run config).

    arm : one of ARMS. rule : "residual" (dominant residual, the default) or "fisher" (Algorithm 1). On the
    leave-only scenario (benchmarks/README.md) Algorithm 1's maps sent the extra local steps to the group with
    the largest curvature (early), which raised the gap, and a sync period > 1 on the other groups raised it
    more; the residual rule, whose R_het grows with η² n² L, adds no local steps there. Hence the defaults
    rule = "residual" and sync_max = 1 (the paper gossips every round; priority sync is opt-in).
    n_min, n_max : local steps per round. lambda_max : the largest proximal weight. gamma_min : the sparsest
    graph density. sync_max : H_max, the longest sync period (1 = gossip every round, as in the paper).
    binned : Table II's classes instead of the continuous map; bins: the two p(g) thresholds low|mid|high;
    bin_* : the (n, λ, γ, H) of each class (the paper's Table II by default).
    compute_budget, comm_budget : the residual rule's budgets per round, as multiples of the uniform
    schedule's.
    pl_ratio : μ̂ = pl_ratio · L̂ (the PL constant is not observable; a condition-number guess).
    gamma_step, prox_levels : the residual rule's increments (γ += gamma_step, λ += lambda_max / prox_levels).
    min_gain : stop when the best predicted reduction is below this fraction of the total residual.
    eps : the ε in p(g) = S_g / (Σ S + ε).
    """

    arm: str = "full"
    rule: str = "residual"
    n_min: int = 1
    n_max: int = 3
    lambda_max: float = 1e-3
    gamma_min: float = 0.2
    sync_max: int = 1
    binned: bool = False
    bins: tuple[float, ...] = (0.25, 0.45)
    bin_local_steps: tuple[int, ...] = (1, 1, 2)
    bin_prox: tuple[float, ...] = (0.0, 0.0, 1e-3)
    bin_gamma: tuple[float, ...] = (0.4, 0.4, 0.4)
    bin_sync: tuple[int, ...] = (1, 1, 1)
    compute_budget: float = 1.0
    comm_budget: float = 1.0
    pl_ratio: float = 0.1
    gamma_step: float = 0.2
    prox_levels: int = 4
    min_gain: float = 1e-3
    eps: float = 1e-12

    def __post_init__(self):
        check_choice("policy.arm", self.arm, ARMS)
        check_choice("policy.rule", self.rule, RULES)
        require(
            _is_int(self.n_min) and self.n_min >= 0, "policy.n_min", self.n_min, "must be an integer >= 0"
        )
        require(
            _is_int(self.n_max) and self.n_max >= self.n_min,
            "policy.n_max",
            self.n_max,
            f"must be an integer >= n_min={self.n_min}",
        )
        check_nonnegative("policy.lambda_max", self.lambda_max)
        check_probability("policy.gamma_min", self.gamma_min)
        require(
            _is_int(self.sync_max) and self.sync_max >= 1,
            "policy.sync_max",
            self.sync_max,
            "must be an integer >= 1",
        )
        require(
            len(self.bins) == 2 and 0 <= self.bins[0] <= self.bins[1] <= 1,
            "policy.bins",
            self.bins,
            "must be two increasing thresholds in [0, 1]",
        )
        for name in ("bin_local_steps", "bin_prox", "bin_gamma", "bin_sync"):
            require(
                len(getattr(self, name)) == 3,
                f"policy.{name}",
                getattr(self, name),
                "must have 3 entries (low, mid, high)",
            )
        require(
            all(_is_int(n) and n >= 0 for n in self.bin_local_steps),
            "policy.bin_local_steps",
            self.bin_local_steps,
            "must be integers >= 0",
        )
        require(all(v >= 0 for v in self.bin_prox), "policy.bin_prox", self.bin_prox, "must be >= 0")
        require(
            all(0 <= v <= 1 for v in self.bin_gamma), "policy.bin_gamma", self.bin_gamma, "must be in [0, 1]"
        )
        require(
            all(_is_int(h) and h >= 1 for h in self.bin_sync),
            "policy.bin_sync",
            self.bin_sync,
            "must be integers >= 1",
        )
        check_positive("policy.compute_budget", self.compute_budget)
        check_positive("policy.comm_budget", self.comm_budget)
        check_positive("policy.pl_ratio", self.pl_ratio)
        require(self.pl_ratio <= 1, "policy.pl_ratio", self.pl_ratio, "must be <= 1 (mu <= L)")
        require(0 < self.gamma_step <= 1, "policy.gamma_step", self.gamma_step, "must be in (0, 1]")
        require(
            _is_int(self.prox_levels) and self.prox_levels >= 1,
            "policy.prox_levels",
            self.prox_levels,
            "must be an integer >= 1",
        )
        check_nonnegative("policy.min_gain", self.min_gain)
        check_positive("policy.eps", self.eps)

    @property
    def actions(self) -> tuple[str, ...]:
        """The actions this arm lets the priority drive."""
        return _ARM_ACTIONS[self.arm]


@dataclasses.dataclass(frozen=True)
class CorrectionConfig:
    """Which correction runs after an event (the ``correction:`` section of a run config).

    method : one of METHODS. rounds : K, the correction rounds after each event.
    lambda_j, lambda_f : weights of the join part and of the forget part in the event gap (docs/method.md §3).
    ewc_weight : EWC's proximal weight λ on the Fisher-diagonal anchor (weights normalised to mean 1).
    kd_weight, kd_temperature : KD-Unlearn's KL term. influence_damping : the damping added to the
    Gauss-Newton blocks, relative to their mean eigenvalue. influence_scale : the step on the
    influence-function update.
    federaser_scale : the calibrated update's scale (1 = the stored update's norm); federaser_interval : the
    rounds between stored updates; federaser_calibration_steps : local steps per calibration.
    wireless : the joint round's settings (:class:`wirelora.correction.joint.JointConfig` keys).
    """

    method: str = "proposed"
    rounds: int = 60
    lambda_j: float = 1.0
    lambda_f: float = 1.0
    ewc_weight: float = 1.0
    kd_weight: float = 1.0
    kd_temperature: float = 1.0
    influence_damping: float = 1.0
    influence_scale: float = 1.0
    federaser_scale: float = 1.0
    federaser_interval: int = 10
    federaser_calibration_steps: int = 2
    wireless: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        check_choice("correction.method", self.method, METHODS)
        require(
            _is_int(self.rounds) and self.rounds >= 0,
            "correction.rounds",
            self.rounds,
            "must be an integer >= 0",
        )
        for name in ("lambda_j", "lambda_f", "ewc_weight", "kd_weight", "influence_scale", "federaser_scale"):
            check_nonnegative(f"correction.{name}", getattr(self, name))
        check_positive("correction.kd_temperature", self.kd_temperature)
        check_positive("correction.influence_damping", self.influence_damping)
        for name in ("federaser_interval", "federaser_calibration_steps"):
            v = getattr(self, name)
            require(_is_int(v) and v >= 1, f"correction.{name}", v, "must be an integer >= 1")
        _ = self.joint  # validates the wireless section (unknown keys, bad values) now

    @property
    def joint(self):
        """The ``wireless`` sub-section as a validated :class:`wirelora.correction.joint.JointConfig`."""
        from wirelora.config import from_dict
        from wirelora.correction.joint import JointConfig

        return from_dict(JointConfig, self.wireless, prefix="correction.wireless")


@dataclasses.dataclass(frozen=True)
class GroupPlan:
    """A correction schedule per layer group. All arrays are [G].

    local_steps : n_g (int). prox : λ_g. gamma : γ_g (graph density and mixing weight).
    sync_period : H_g (int). priority : p(g) (sums to 1; uniform 1/G for the uniform arm). actions : the
    residual rule's choices in order, as (group, action) pairs (empty for the Fisher rule).
    """

    local_steps: np.ndarray
    prox: np.ndarray
    gamma: np.ndarray
    sync_period: np.ndarray
    priority: np.ndarray
    actions: tuple[tuple[int, str], ...] = ()

    @property
    def num_groups(self) -> int:
        return int(self.local_steps.shape[0])

    def replace(self, **changes) -> GroupPlan:
        return dataclasses.replace(self, **changes)


def _np(x) -> np.ndarray:
    """Array from NumPy or a torch tensor (without importing torch)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


def _layers(x) -> list[np.ndarray]:
    """A group's per-layer arrays: one array, or a list of arrays (one per adapted layer of the group)."""
    if isinstance(x, list | tuple):
        return [_np(a) for a in x]
    return [_np(x)]


def empirical_fisher(per_sample_grads) -> np.ndarray:
    """F_g = mean_s Σ_layers G_sᵀ G_s : [r, r] (docs/method.md §6).

    per_sample_grads : [S, out, r] per-sample gradients of the group's factor, or a list of such arrays (one
    per adapted layer of the group; ``out`` may differ, S and r must agree).
    """
    layers = _layers(per_sample_grads)
    shapes = {(a.shape[0], a.shape[-1]) for a in layers}
    if any(a.ndim != 3 for a in layers) or len(shapes) != 1:
        raise ValueError(
            "per_sample_grads: expected [S, out, r] arrays with equal S and r, "
            f"got {[a.shape for a in layers]}"
        )
    fisher = sum(np.einsum("sor,sot->rt", a, a) for a in layers)  # [r, r]
    return fisher / layers[0].shape[0]


def top_eigenvalue(matrix) -> float:
    """λ_max of a symmetric PSD matrix [r, r]."""
    m = _np(matrix)
    return float(np.linalg.eigvalsh(0.5 * (m + m.T))[-1])


def gradient_energy(device_grads) -> float:
    """mean_i ‖∇_{B^(g)} L_i‖²_F. device_grads : [M, out, r] (or a list over layers)."""
    return float(sum(np.sum(a.reshape(a.shape[0], -1) ** 2, axis=1) for a in _layers(device_grads)).mean())


def gradient_spread(device_grads) -> float:
    """mean_i ‖∇L_i − mean_j ∇L_j‖²_F, the heterogeneity seen at one point. device_grads : [M, out, r] (or
    list)."""
    total = 0.0
    for a in _layers(device_grads):
        flat = a.reshape(a.shape[0], -1)
        total = total + np.sum((flat - flat.mean(axis=0)) ** 2, axis=1)
    return float(np.mean(total))


def fisher_score(per_sample_grads, device_grads) -> float:
    """S_g = λ_max(F_g) · mean_i ‖∇_{B^(g)} L_i‖²_F (Algorithm 1)."""
    return top_eigenvalue(empirical_fisher(per_sample_grads)) * gradient_energy(device_grads)


def priorities(scores, eps: float = 1e-12) -> np.ndarray:
    """p(g) = S_g / (Σ_g S_g + ε) : [G]."""
    s = _np(scores)
    if s.ndim != 1 or s.size == 0 or np.any(~np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"scores={s.tolist()!r}: must be a non-empty list of finite numbers >= 0")
    return s / (s.sum() + eps)


def _check_p(p) -> np.ndarray:
    p = _np(p)
    if p.ndim != 1 or p.size == 0 or np.any(p < 0) or np.any(~np.isfinite(p)) or p.sum() > 1 + 1e-9:
        raise ValueError(f"priority={p.tolist()!r}: must be non-negative and sum to at most 1")
    return p


def _maps(p: np.ndarray, cfg: PolicyConfig) -> dict[str, np.ndarray]:
    """The continuous maps of Algorithm 1 (+ H_g) at priorities p : [G]."""
    pmax = p.max() if p.max() > 0 else 1.0
    return {
        "local": cfg.n_min + np.floor((cfg.n_max - cfg.n_min) * p + 1e-9).astype(np.int64),
        "prox": cfg.lambda_max * p,
        "topology": cfg.gamma_min + (1.0 - cfg.gamma_min) * p,
        "sync": 1 + np.floor((cfg.sync_max - 1) * (1.0 - p / pmax) + 1e-9).astype(np.int64),
    }


def _compose(
    p: np.ndarray, prioritised: dict[str, np.ndarray], uniform: dict[str, np.ndarray], actions: Sequence[str]
) -> GroupPlan:
    pick = {a: (prioritised[a] if a in actions else uniform[a]) for a in ACTIONS}
    return GroupPlan(
        local_steps=np.asarray(pick["local"], dtype=np.int64),
        prox=np.asarray(pick["prox"], dtype=float),
        gamma=np.asarray(pick["topology"], dtype=float),
        sync_period=np.asarray(pick["sync"], dtype=np.int64),
        priority=p,
    )


def _uniform_maps(num_groups: int, cfg: PolicyConfig) -> dict[str, np.ndarray]:
    u = _maps(np.full(num_groups, 1.0 / num_groups), cfg)
    u["sync"] = np.ones(num_groups, dtype=np.int64)  # the uniform schedule gossips every round (the paper's)
    return u


def uniform_schedule(num_groups: int, cfg: PolicyConfig) -> GroupPlan:
    """p(g) = 1/G in the same maps, gossip every round: n = n_min + ⌊(n_max − n_min)/G⌋, λ = λ_max/G, ..."""
    require(_is_int(num_groups) and num_groups >= 1, "num_groups", num_groups, "must be an integer >= 1")
    u = _uniform_maps(num_groups, cfg)
    return _compose(np.full(num_groups, 1.0 / num_groups), u, u, ())


def no_correction_schedule(num_groups: int) -> GroupPlan:
    """No local steps, no gossip (H = a period no run reaches), no damping: the model stays as projected."""
    z = np.zeros(num_groups)
    return GroupPlan(
        local_steps=z.astype(np.int64),
        prox=z,
        gamma=z,
        sync_period=np.full(num_groups, 2**31 - 1),
        priority=np.full(num_groups, 1.0 / num_groups),
    )


def priority_schedule(p, cfg: PolicyConfig) -> GroupPlan:
    """Algorithm 1's continuous maps for the knobs of ``cfg.arm``; the other knobs take the uniform values."""
    p = _check_p(p)
    return _compose(p, _maps(p, cfg), _uniform_maps(p.size, cfg), cfg.actions)


def binned_schedule(p, cfg: PolicyConfig) -> GroupPlan:
    """Table II's classes: low (p < bins[0]), mid, high (p >= bins[1]) -> bin_local_steps, bin_prox, ..."""
    p = _check_p(p)
    cls = np.searchsorted(np.asarray(cfg.bins), p, side="right")  # [G] in {0, 1, 2}
    binned = {
        "local": np.asarray(cfg.bin_local_steps, dtype=np.int64)[cls],
        "prox": np.asarray(cfg.bin_prox, dtype=float)[cls],
        "topology": np.asarray(cfg.bin_gamma, dtype=float)[cls],
        "sync": np.asarray(cfg.bin_sync, dtype=np.int64)[cls],
    }
    return _compose(p, binned, _uniform_maps(p.size, cfg), cfg.actions)


def fisher_plan(scores, cfg: PolicyConfig) -> GroupPlan:
    """The Fisher rule for any arm: scores S_g : [G] -> GroupPlan."""
    g = _np(scores).size
    if cfg.arm == "no_correction":
        return no_correction_schedule(g)
    p = priorities(scores, cfg.eps)
    if cfg.arm == "uniform":
        return uniform_schedule(g, cfg)
    return binned_schedule(p, cfg) if cfg.binned else priority_schedule(p, cfg)


# ------------------------------------------------------------------------------------------ dominant residual
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
            a = np.atleast_1d(_np(v))
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
        rho=_np(rho_fn(plan.gamma)),
        disagreement=obs.disagreement,
        drift=obs.grad_spread,
        zeta2=obs.grad_spread,
        prox=plan.prox,
        sync_period=plan.sync_period,
    )


def plan_compute(plan: GroupPlan, compute_units, *, prox_overhead: float = 0.1) -> np.ndarray:
    """Compute per round per group : [G] = n_g · units_g · (1 + overhead if λ_g > 0)."""
    return plan.local_steps * _np(compute_units) * (1.0 + prox_overhead * (plan.prox > 0))


def plan_comm_bits(plan: GroupPlan, payload_bits, edges_fn: Callable) -> np.ndarray:
    """Bits per round per group : [G] = 2 · payload_g · |E(γ_g)| / H_g (both directions of each edge)."""
    edges = np.asarray([edges_fn(float(g)) for g in plan.gamma], dtype=float)
    return 2.0 * _np(payload_bits) * edges / plan.sync_period


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
    g = _np(payload_bits).size
    if cfg.arm == "no_correction":
        return no_correction_schedule(g)
    uniform = uniform_schedule(g, cfg)
    if cfg.arm == "uniform":
        return uniform
    start = {
        "local": np.full(g, cfg.n_min, dtype=np.int64),
        "prox": np.zeros(g),
        "topology": np.full(g, cfg.gamma_min),
        "sync": np.full(g, cfg.sync_max, dtype=np.int64),
    }
    u = _uniform_maps(g, cfg)
    plan = _compose(np.full(g, 1.0 / g), start, u, cfg.actions)
    compute_cap = cfg.compute_budget * plan_compute(uniform, compute_units).sum()
    comm_cap = cfg.comm_budget * plan_comm_bits(uniform, payload_bits, edges_fn).sum()

    def total(p: GroupPlan) -> np.ndarray:
        return estimate_residuals(
            obs, p, rounds=rounds, step_size=step_size, rho_fn=rho_fn, pl_ratio=cfg.pl_ratio
        ).sum(axis=-1)  # [G]

    chosen: list[tuple[int, str]] = []
    current = total(plan)
    for _ in range(max_actions):
        used_compute = plan_compute(plan, compute_units).sum()
        used_comm = plan_comm_bits(plan, payload_bits, edges_fn).sum()
        best = None
        for a in cfg.actions:
            for grp in range(g):
                cand = _step(plan, grp, a, cfg)
                if cand is None:
                    continue
                d_comp = plan_compute(cand, compute_units).sum() - used_compute
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
    start = _compose(
        np.ones(1),
        {
            "local": np.array([cfg.n_min]),
            "prox": np.zeros(1),
            "topology": np.array([cfg.gamma_min]),
            "sync": np.array([cfg.sync_max]),
        },
        _uniform_maps(1, cfg),
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
