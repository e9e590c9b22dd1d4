"""Correction after a join or leave: the config sections (``config.py``), residuals (Theorem 2), priority
scores (``priority.py``), schedules (``plan.py``: Fisher priority, uniform, ablation arms), the
dominant-residual rule (``residual_rule.py``), the joint policy-allocator round (``joint.py``), the per-round
schedule the trainer runs (``schedule.py``), and the correction methods (``methods/``, one file each on a
``Correction`` base class, one registry; needs torch)."""

from wirelora.correction.config import ARMS, METHODS, CorrectionConfig, PolicyConfig
from wirelora.correction.joint import JointRound, joint_round
from wirelora.correction.plan import GroupPlan, fisher_plan, uniform_plan
from wirelora.correction.residual_rule import Observables, regime_grid, residual_plan

__all__ = [
    "ARMS",
    "METHODS",
    "CorrectionConfig",
    "GroupPlan",
    "JointRound",
    "Observables",
    "PolicyConfig",
    "fisher_plan",
    "joint_round",
    "regime_grid",
    "residual_plan",
    "uniform_plan",
]
