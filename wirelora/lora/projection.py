"""The leave projection and what it leaves behind (docs/method.md §2), as pure functions of B and A.

B : [..., out, S] (any leading batch dims, e.g. one copy per device [M, out, S]); A : [in, S], all slots'
bases side by side; ``cols`` : the leaver's columns (A_u = A[:, cols] : [in, r]).
"""

from __future__ import annotations

import torch

__all__ = ["project_out", "contribution_residual", "leave_leakage"]


def project_out(B: torch.Tensor, A: torch.Tensor, cols: slice, *, slotted: bool = False) -> torch.Tensor:
    """The leave projection of eq. 15/19 in factor form: B ← B − B (AᵀA_u)(A_uᵀA). Returns a new tensor of
    B's shape.

    With slotted bases AᵀA_u is exactly the leaver's block of the identity, so the projection is
    "zero the leaver's columns"; ``slotted=True`` does that literally, which keeps every other block
    bit-identical (the float product would perturb them by ~1e-7). With independent bases the factor
    form equals ΔW(I − A_uA_uᵀ) only up to the overlap AAᵀA_u ≠ A_u, so part of the leaver's subspace
    content stays: measured, a fraction growing like (M−1)·r/d (docs/method.md §2).
    """
    if slotted:
        out = B.clone()
        out[..., cols] = 0
        return out
    a_u = A[:, cols]  # [in, r]
    left = B @ (A.T @ a_u)  # [..., out, r] = ΔW A_u / scaling
    return B - left @ (a_u.T @ A)  # [..., out, S]


def contribution_residual(B: torch.Tensor, A: torch.Tensor, cols: slice) -> torch.Tensor:
    """‖ΔW A_u‖_F / ‖ΔW‖_F: how much of the adapter still lies in the leaver's subspace.

    Returns [...] (0 where ΔW = 0). The scaling cancels.
    """
    delta = B @ A.T  # [..., out, in]
    in_u = delta @ A[:, cols]  # [..., out, r]
    num = torch.linalg.matrix_norm(in_u)
    den = torch.linalg.matrix_norm(delta)
    return torch.where(den > 0, num / torch.where(den > 0, den, 1), torch.zeros_like(num))


def leave_leakage(before: torch.Tensor, after: torch.Tensor, A: torch.Tensor, cols: slice) -> float:
    """‖ΔW'A_u‖_F / ‖ΔW A_u‖_F for one layer's B [out, S] before and after a leave: what remains in the
    leaver's subspace, relative to what was there (0.0 when nothing was)."""
    gram = A.T @ A[:, cols]  # [S, r]
    was = torch.linalg.matrix_norm(before @ gram)
    left = torch.linalg.matrix_norm(after @ gram)
    return float(left / was) if was > 0 else 0.0
