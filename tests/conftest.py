"""Shared fixtures. Under pytest-xdist each worker uses one thread so that two workers share two cores."""

import os
import sys

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# tiny_runs.py and other shared helpers import by name (--import-mode=importlib adds no test folder).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Property tests draw the same examples on every run: a failure seen once is seen again, and CI is repeatable.
settings.register_profile("wirelora", derandomize=True)
settings.load_profile("wirelora")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
