"""Proposed: the leave projection, then per layer group the policy's schedule (Fisher priority or dominant
residual, arm ``policy.arm``) through the joint policy-allocator round every correction round (method.md
§4)."""

from __future__ import annotations

from typing import Any

import numpy as np

from wirelora.correction import joint as _joint
from wirelora.correction import plan as _plan
from wirelora.correction import residual_rule as _rr
from wirelora.correction.methods.base import Correction
from wirelora.correction.methods.observables import group_fisher_scores, group_observables

__all__ = ["Proposed"]


class Proposed(Correction):
    name = "proposed"

    def make_plan(self, state) -> _plan.GroupPlan:
        g = len(state.group_names)
        cfg = self.ctx.policy
        if cfg.arm in ("uniform", "no_correction"):
            return _plan.fisher_plan(np.ones(g), cfg)
        scores, lmax = group_fisher_scores(state, num_samples=self.ctx.correction.fisher_samples)
        if cfg.rule == "fisher":
            return _plan.fisher_plan(scores, cfg)
        obs = group_observables(state, lmax)
        m = len(state.members)
        wireless = self.ctx.wireless
        bps = state.config.trainer.bits_per_scalar
        units = np.array([state.payload_bits(gr) / bps for gr in state.group_names])
        return _rr.residual_plan(
            obs,
            cfg,
            rounds=self.ctx.correction.rounds,
            step_size=state.config.trainer.step_size,
            rho_fn=lambda gamma: _joint.expected_consensus_rate(
                m,
                np.asarray(gamma),
                damping=wireless.damping_for(np.asarray(gamma), state.config.trainer.gamma),
            ),
            payload_bits=np.array([state.payload_bits(gr) for gr in state.group_names], dtype=float),
            compute_units=units,
            edges_fn=lambda gamma: _num_edges(m, gamma),
        )

    def report(self) -> dict[str, Any]:
        return {**super().report(), "arm": self.ctx.policy.arm, "rule": self.ctx.policy.rule}


def _num_edges(m: int, gamma) -> int:
    from wirelora.network.topology import num_edges_for_density

    return num_edges_for_density(m, float(min(max(gamma, 0.0), 1.0)))
