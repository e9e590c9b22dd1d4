"""The correction layer's config sections: ``correction:`` (which method, its weights) and ``policy:`` (how
the correction schedule is chosen; docs/method.md §5-§6). The names of the methods, rules, arms and actions.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from wirelora.config import (
    check_choice,
    check_nonnegative,
    check_positive,
    check_probability,
    require,
)

__all__ = ["ARMS", "RULES", "ACTIONS", "METHODS", "PolicyConfig", "CorrectionConfig"]

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
    prox_overhead : the extra compute of a proximal step over a plain one (a fraction; the residual rule's
    compute cost).
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
    prox_overhead: float = 0.1
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
        check_nonnegative("policy.prox_overhead", self.prox_overhead)
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
    fisher_samples : per-sample gradients per device for the empirical Fisher (the priority scores, EWC's
    anchor and the influence blocks). The wireless settings are the run's top-level ``wireless:`` section.
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
    fisher_samples: int = 8

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
        for name in ("federaser_interval", "federaser_calibration_steps", "fisher_samples"):
            v = getattr(self, name)
            require(_is_int(v) and v >= 1, f"correction.{name}", v, "must be an integer >= 1")
