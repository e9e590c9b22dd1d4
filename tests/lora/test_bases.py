"""Bases: orthonormality, exact slot orthogonality, determinism, and Lemma 1's overlap r_i r_j / d."""

import numpy as np
import pytest

from wirelora.lora.bases import independent_basis, orthonormal_basis, overlap, slotted_basis


def test_orthonormal_columns_and_sign_convention(rng):
    q = orthonormal_basis(64, 20, rng=rng)
    assert q.shape == (64, 20)
    np.testing.assert_allclose(q.T @ q, np.eye(20), atol=1e-13)
    # Q = G R^-1 with diag(R) > 0: the first column is the normalised first Gaussian column
    g = np.random.default_rng(12345).standard_normal((64, 20))
    np.testing.assert_allclose(q[:, 0], g[:, 0] / np.linalg.norm(g[:, 0]), atol=1e-13)


def test_slotted_slots_are_orthogonal_and_seeded():
    q = slotted_basis(128, 16, 8, seed=3, layer_index=2)
    assert q.shape == (128, 128)
    a0, a5 = q[:, 0:16], q[:, 80:96]
    assert overlap(a0, a5) < 1e-25  # exactly orthogonal up to float64 round-off
    np.testing.assert_allclose(a0.T @ a0, np.eye(16), atol=1e-13)
    assert np.array_equal(q, slotted_basis(128, 16, 8, seed=3, layer_index=2))
    assert not np.allclose(q, slotted_basis(128, 16, 8, seed=3, layer_index=1))
    assert not np.allclose(q, slotted_basis(128, 16, 8, seed=4, layer_index=2))


def test_too_many_columns_is_an_error(rng):
    with pytest.raises(ValueError, match="num_columns=9"):
        orthonormal_basis(8, 9, rng=rng)


@pytest.mark.parametrize(("d", "r"), [(128, 8), (64, 4)])
def test_independent_overlap_matches_lemma_1(d, r):
    # E‖A_iᵀA_j‖_F² = r² / d for two independent orthonormalised Gaussian draws
    draws = [independent_basis(d, r, seed=7, layer_index=0, draw=k) for k in range(400)]
    vals = np.array([overlap(draws[2 * k], draws[2 * k + 1]) for k in range(200)])
    se = vals.std(ddof=1) / np.sqrt(len(vals))
    assert abs(vals.mean() - r * r / d) < 4 * se
    assert se < 0.05 * r * r / d  # the test has power: the standard error is small next to the target


def test_independent_draws_differ_and_repeat():
    a = independent_basis(32, 4, seed=0, layer_index=1, draw=0)
    np.testing.assert_allclose(a.T @ a, np.eye(4), atol=1e-13)
    assert np.array_equal(a, independent_basis(32, 4, seed=0, layer_index=1, draw=0))
    assert overlap(a, independent_basis(32, 4, seed=0, layer_index=1, draw=1)) > 1e-6
