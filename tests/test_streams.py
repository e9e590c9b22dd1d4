"""Named random streams: distinct salts, pure functions of (seed, name, indices), unknown names refused."""

import numpy as np
import pytest

from wirelora.streams import SALTS, stream


def test_salts_are_distinct():
    assert len(set(SALTS.values())) == len(SALTS)


def test_a_stream_is_a_pure_function_of_seed_name_and_indices():
    a = stream("batches", 3, 1, 2, 0).random(5)
    assert np.array_equal(a, stream("batches", 3, 1, 2, 0).random(5))
    assert not np.array_equal(a, stream("batches", 3, 1, 2, 1).random(5))
    assert not np.array_equal(a, stream("round_graph", 3, 1, 2, 0).random(5))
    # the seed sequence is [seed, salt, *indices]: the draws of the streams before they had names
    assert np.array_equal(a, np.random.default_rng([3, 11, 1, 2, 0]).random(5))


def test_unknown_stream_is_refused():
    with pytest.raises(ValueError, match="stream='nope'"):
        stream("nope", 0)
