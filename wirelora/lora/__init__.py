"""wirelora.lora: orthogonal LoRA contribution coordinates on top of peft (docs/method.md §2).

bases (slotted / independent orthonormal bases), config (the validated adapter configuration), slots (the
slot table: who owns which columns, reuse), ownership (gradient masks), projection (the leave), injection
(peft; nn.Linear or GPT-2's Conv1D targets), io (files), peft_export / peft_import (standard peft adapters
out, and in as a run's start), adapter (OrthogonalLoRA, the facade over them).

torch only at import; peft is imported when an adapter is built (it pulls transformers, ~4 s). Never cvxpy.
"""

from wirelora.lora.adapter import OrthogonalLoRA
from wirelora.lora.bases import BASIS_KINDS, independent_basis, orthonormal_basis, overlap, slotted_basis
from wirelora.lora.config import (
    GROUP_NAMES,
    OWNERSHIP_MODES,
    AdapterConfig,
    default_layer_groups,
    resolve_target_modules,
)
from wirelora.lora.projection import contribution_residual, leave_leakage, project_out
from wirelora.lora.slots import SlotTable

__all__ = [
    "OrthogonalLoRA",
    "AdapterConfig",
    "SlotTable",
    "project_out",
    "contribution_residual",
    "leave_leakage",
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
