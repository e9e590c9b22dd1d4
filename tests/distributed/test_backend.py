import numpy as np
import torch

from wirelora.distributed.backend import Backend, InProcessBackend, mix_blocks, payload_bits, sent_bits
from wirelora.network.topology import metropolis_weights, random_connected_graph


def test_mix_matches_numpy_reference(rng):
    adj = random_connected_graph(5, 0.5, rng=rng)
    w = metropolis_weights(adj)
    b = rng.standard_normal((5, 3, 4))
    c = rng.standard_normal((5, 2, 7))
    mixed = mix_blocks({"x": torch.as_tensor(b), "y": torch.as_tensor(c)}, w)
    out = mixed["x"].numpy()
    ref = np.stack([sum(w[i, j] * b[j] for j in range(5)) for i in range(5)])
    np.testing.assert_allclose(out, ref, atol=1e-12)
    ref_c = np.stack([sum(w[i, j] * c[j] for j in range(5)) for i in range(5)])
    np.testing.assert_allclose(mixed["y"].numpy(), ref_c, atol=1e-12)
    # doubly stochastic: the average is preserved
    np.testing.assert_allclose(out.mean(0), b.mean(0), atol=1e-12)


def test_bits():
    adj = np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]], dtype=bool)
    assert sent_bits(adj, 100) == 2 * 2 * 100
    assert payload_bits([8, 16], [10, 20], 32) == (8 * 10 + 16 * 20) * 32
    assert isinstance(InProcessBackend(), Backend)
