"""Unit conversions, and nothing else: dB -> linear, dBm -> W.

Both are vectorised (NumPy arrays or Python floats in, the same out).
"""

from __future__ import annotations

import numpy as np

__all__ = ["db_to_lin", "dbm_to_w"]


def db_to_lin(x_db):
    """Decibels -> linear power ratio: 10^(x/10)."""
    return np.power(10.0, np.asarray(x_db, dtype=float) / 10.0)


def dbm_to_w(p_dbm):
    """dBm -> watts: 10^((p - 30)/10)."""
    return np.power(10.0, (np.asarray(p_dbm, dtype=float) - 30.0) / 10.0)
