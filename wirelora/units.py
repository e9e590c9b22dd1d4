"""Unit conversions, and nothing else: dB <-> linear, dBm <-> W, Hz <-> MHz, bit <-> Mbit.

All functions are vectorised (NumPy arrays or Python floats in, the same out).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "db_to_lin",
    "lin_to_db",
    "dbm_to_w",
    "w_to_dbm",
    "hz_to_mhz",
    "mhz_to_hz",
    "bit_to_mbit",
    "mbit_to_bit",
]


def db_to_lin(x_db):
    """Decibels -> linear power ratio: 10^(x/10)."""
    return np.power(10.0, np.asarray(x_db, dtype=float) / 10.0)


def lin_to_db(x_lin):
    """Linear power ratio -> decibels: 10 log10(x)."""
    return 10.0 * np.log10(np.asarray(x_lin, dtype=float))


def dbm_to_w(p_dbm):
    """dBm -> watts: 10^((p - 30)/10)."""
    return np.power(10.0, (np.asarray(p_dbm, dtype=float) - 30.0) / 10.0)


def w_to_dbm(p_w):
    """Watts -> dBm: 10 log10(p) + 30."""
    return 10.0 * np.log10(np.asarray(p_w, dtype=float)) + 30.0


def hz_to_mhz(f_hz):
    return np.asarray(f_hz, dtype=float) / 1e6


def mhz_to_hz(f_mhz):
    return np.asarray(f_mhz, dtype=float) * 1e6


def bit_to_mbit(x_bit):
    return np.asarray(x_bit, dtype=float) / 1e6


def mbit_to_bit(x_mbit):
    return np.asarray(x_mbit, dtype=float) * 1e6
