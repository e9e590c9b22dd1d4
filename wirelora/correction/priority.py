"""Fisher priority scores per layer group (the paper's Algorithm 1, docs/method.md §6): the empirical Fisher
F_g, its top eigenvalue, the gradient energy and spread, S_g = λ_max(F_g) · mean_i ‖∇_{B^(g)} L_i‖²_F and the
priorities p(g) = S_g / (Σ S + ε).

The functions take NumPy arrays (torch tensors are converted), so they can run on the trainer's gradients or
on a synthetic problem alike.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "as_float_array",
    "empirical_fisher",
    "top_eigenvalue",
    "gradient_energy",
    "gradient_spread",
    "fisher_score",
    "priorities",
]


def as_float_array(x) -> np.ndarray:
    """Array from NumPy or a torch tensor (without importing torch)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


def _layers(x) -> list[np.ndarray]:
    """A group's per-layer arrays: one array, or a list of arrays (one per adapted layer of the group)."""
    if isinstance(x, list | tuple):
        return [as_float_array(a) for a in x]
    return [as_float_array(x)]


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
    m = as_float_array(matrix)
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
    s = as_float_array(scores)
    if s.ndim != 1 or s.size == 0 or np.any(~np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"scores={s.tolist()!r}: must be a non-empty list of finite numbers >= 0")
    return s / (s.sum() + eps)
