"""Correction after a join or leave: residuals (Theorem 2), policies (Fisher priority, dominant residual,
uniform, ablation arms), the joint policy-allocator round, and the correction methods (``methods/``, one
file each on a ``Correction`` base class, one registry; needs torch)."""

from wirelora.correction.joint import JointConfig, JointRound, joint_round
from wirelora.correction.policy import (
    ARMS,
    METHODS,
    CorrectionConfig,
    GroupPlan,
    Observables,
    PolicyConfig,
    fisher_plan,
    regime_grid,
    residual_plan,
    uniform_schedule,
)

__all__ = [
    "ARMS",
    "METHODS",
    "CorrectionConfig",
    "GroupPlan",
    "JointConfig",
    "JointRound",
    "Observables",
    "PolicyConfig",
    "fisher_plan",
    "joint_round",
    "regime_grid",
    "residual_plan",
    "uniform_schedule",
]
