"""wirelora.lora: orthogonal LoRA contribution coordinates on top of peft (docs/method.md §2).

torch only at import; peft is imported when an adapter is built (it pulls transformers, ~4 s). Never cvxpy.
"""

from wirelora.lora.adapter import (
    GROUP_NAMES,
    OWNERSHIP_MODES,
    OrthogonalLoRA,
    contribution_residual,
    default_layer_groups,
    project_out,
    resolve_target_modules,
)
from wirelora.lora.bases import BASIS_KINDS, independent_basis, orthonormal_basis, overlap, slotted_basis

__all__ = [
    "OrthogonalLoRA",
    "project_out",
    "contribution_residual",
    "default_layer_groups",
    "resolve_target_modules",
    "GROUP_NAMES",
    "OWNERSHIP_MODES",
    "BASIS_KINDS",
    "orthonormal_basis",
    "slotted_basis",
    "independent_basis",
    "overlap",
]
