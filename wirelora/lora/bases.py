"""Orthonormal LoRA bases: the frozen coordinates A_i that hold each device's contribution (method.md §2).

Two kinds:
- ``slotted`` [W]: one QR of a seeded Gaussian per layer, Q : [in_features, S]; device i owns the
  disjoint column slot Q[:, slot_i * r : (slot_i + 1) * r], so A_iᵀA_j = 0 exactly (in exact
  arithmetic) and A_iᵀA_i = I.
- ``independent`` [P]: each device draws its own Gaussian [in_features, r] and orthonormalises it;
  two devices' bases overlap, E‖A_iᵀA_j‖_F² = r_i r_j / d (Lemma 1).

Bases are computed in float64 (NumPy) from integer seeds: the same seed gives the same basis bit for bit with
the same NumPy/LAPACK build (another build may differ at round-off level); callers cast to the model's dtype.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BASIS_KINDS",
    "basis_seed",
    "orthonormal_basis",
    "slotted_basis",
    "aligned_slotted_basis",
    "independent_basis",
    "overlap",
]

BASIS_KINDS = ("slotted", "independent")


def basis_seed(seed: int, layer_index: int, draw: int = 0) -> np.random.SeedSequence:
    """The seed sequence of one layer's basis; ``draw`` numbers the independent draws (one per join)."""
    return np.random.SeedSequence([int(seed), int(layer_index), int(draw)])


def orthonormal_basis(in_features: int, num_columns: int, *, rng: np.random.Generator) -> np.ndarray:
    """Orthonormal columns from the QR of an i.i.d. N(0,1) matrix.

    Returns Q : [in_features, num_columns] float64 with QᵀQ = I. The sign of each column is fixed by making
    diag(R) positive, so the result does not depend on the LAPACK build's sign convention.
    """
    if num_columns > in_features:
        raise ValueError(
            f"num_columns={num_columns}: cannot have more orthonormal columns than in_features={in_features}"
        )
    gauss = rng.standard_normal((in_features, num_columns))  # [d, S]
    q, r = np.linalg.qr(gauss)
    signs = np.where(np.diag(r) < 0, -1.0, 1.0)  # [S]
    return q * signs  # [d, S]


def slotted_basis(
    in_features: int, rank: int, max_devices: int, *, seed: int, layer_index: int
) -> np.ndarray:
    """All slots of one layer side by side: Q : [in_features, max_devices * rank], slot s =
    columns s*r:(s+1)*r."""
    rng = np.random.default_rng(basis_seed(seed, layer_index))
    return orthonormal_basis(in_features, rank * max_devices, rng=rng)


def aligned_slotted_basis(
    span: np.ndarray, rank: int, max_devices: int, *, seed: int, layer_index: int
) -> np.ndarray:
    """A slotted basis Q : [in_features, max_devices * rank] whose first k columns span ``span`` : [in, k]
    (k <= S; e.g. the row space of an imported LoRA adapter), the rest seeded Gaussian columns orthogonalised
    against them. QᵀQ = I, so slots stay exactly orthogonal; any ΔW whose rows lie in span(``span``) is
    ΔW Q_C Q_Cᵀ for every column set C that holds the first k columns."""
    d, k = span.shape
    width = rank * max_devices
    if k > width:
        raise ValueError(f"span of {k} columns: more than the basis's max_devices * rank = {width}")
    head = np.linalg.qr(span)[0] if k else np.zeros((d, 0))  # [d, k]
    rng = np.random.default_rng(basis_seed(seed, layer_index))
    gauss = rng.standard_normal((d, width - k))  # [d, S - k]
    for _ in range(2):  # twice: one Gram-Schmidt pass against head loses orthogonality at round-off
        gauss = gauss - head @ (head.T @ gauss)
    q, r = np.linalg.qr(gauss)
    tail = q * np.where(np.diag(r) < 0, -1.0, 1.0)  # signs as orthonormal_basis: independent of LAPACK
    return np.concatenate([head, tail], axis=1)  # [d, S]


def independent_basis(in_features: int, rank: int, *, seed: int, layer_index: int, draw: int) -> np.ndarray:
    """One device's own basis A_i : [in_features, rank] (the paper's independent draw number ``draw``)."""
    rng = np.random.default_rng(
        basis_seed(seed, layer_index, draw + 1)
    )  # draw 0 of the sequence is the slotted Q
    return orthonormal_basis(in_features, rank, rng=rng)


def overlap(a_i: np.ndarray, a_j: np.ndarray) -> float:
    """‖A_iᵀA_j‖_F² for two bases [d, r_i] and [d, r_j] (E = r_i r_j / d for independent draws)."""
    return float(np.sum((np.asarray(a_i).T @ np.asarray(a_j)) ** 2))
