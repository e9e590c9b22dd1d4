"""Correction schedules per layer group (docs/method.md §5-§6): the :class:`GroupPlan` (n_g, λ_g, γ_g, H_g,
p(g)) and the schedules built from priorities.

- **Fisher priority** (the paper's Algorithm 1): n_g = n_min + ⌊(n_max − n_min) p(g)⌋, λ_g = λ_max p(g),
  γ_g = γ_min + (1 − γ_min) p(g) and **[W]** H_g = 1 + ⌊(H_max − 1)(1 − p(g) / max p)⌋ (the top group gossips
  every round, the others less often). The floor in n_g reproduces the paper's Table II with n_min = 1,
  n_max = 3. ``binned=True`` is Table II's low / mid / high classes: thresholds on p(g), a fixed (n, λ, γ, H)
  per class.
- **Uniform**: every group gets p(g) = 1/G in the same maps.
- **Ablation arms** (Table III): which knobs follow the priority; the others keep the uniform value. ``full``:
  all four; ``ls_prox``: n, λ; ``local_steps``: n; ``retain_prox``: λ; ``topology``: γ; ``uniform``: none;
  ``no_correction``: no correction rounds at all (n = 0, no gossip).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from wirelora.config import require
from wirelora.correction.config import ACTIONS, PolicyConfig
from wirelora.correction.priority import as_float_array, priorities

__all__ = [
    "GroupPlan",
    "uniform_plan",
    "no_correction_schedule",
    "priority_schedule",
    "binned_schedule",
    "fisher_plan",
    "compose_plan",
    "uniform_maps",
]


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


def _check_p(p) -> np.ndarray:
    p = as_float_array(p)
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


def compose_plan(
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


def uniform_maps(num_groups: int, cfg: PolicyConfig) -> dict[str, np.ndarray]:
    u = _maps(np.full(num_groups, 1.0 / num_groups), cfg)
    u["sync"] = np.ones(num_groups, dtype=np.int64)  # the uniform schedule gossips every round (the paper's)
    return u


def _is_count(x) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool)


def uniform_plan(num_groups: int, cfg: PolicyConfig) -> GroupPlan:
    """p(g) = 1/G in the same maps, gossip every round: n = n_min + ⌊(n_max − n_min)/G⌋, λ = λ_max/G, ..."""
    require(
        _is_count(num_groups) and num_groups >= 1,
        "num_groups",
        num_groups,
        "must be an integer >= 1",
    )
    u = uniform_maps(num_groups, cfg)
    return compose_plan(np.full(num_groups, 1.0 / num_groups), u, u, ())


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
    return compose_plan(p, _maps(p, cfg), uniform_maps(p.size, cfg), cfg.actions)


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
    return compose_plan(p, binned, uniform_maps(p.size, cfg), cfg.actions)


def fisher_plan(scores, cfg: PolicyConfig) -> GroupPlan:
    """The Fisher rule for any arm: scores S_g : [G] -> GroupPlan."""
    g = as_float_array(scores).size
    if cfg.arm == "no_correction":
        return no_correction_schedule(g)
    p = priorities(scores, cfg.eps)
    if cfg.arm == "uniform":
        return uniform_plan(g, cfg)
    return binned_schedule(p, cfg) if cfg.binned else priority_schedule(p, cfg)
