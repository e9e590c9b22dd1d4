"""Shannon rate, latency, energy and the paper's per-edge cost (eq. 7, 8). All vectorised, broadcasting."""

from __future__ import annotations

import numpy as np

__all__ = ["shannon_rate_bps", "latency_s", "energy_j", "edge_cost"]

_LN2 = np.log(2.0)


def shannon_rate_bps(bandwidth_hz, link_snr_hz):
    """rate = b log2(1 + a / b) bit/s, with rate(0) = 0 (its limit).

    bandwidth_hz, link_snr_hz : broadcastable, >= 0 (link_snr_hz = p h / N0 in Hz, see channel.link_snr_hz).
    """
    b = np.asarray(bandwidth_hz, dtype=float)
    a = np.asarray(link_snr_hz, dtype=float)
    if np.any(b < 0) or np.any(np.isnan(b)):
        raise ValueError(f"bandwidth_hz={_first_bad(b, b < 0)!r}: must be >= 0")
    if np.any(a < 0) or np.any(np.isnan(a)):
        raise ValueError(f"link_snr_hz={_first_bad(a, a < 0)!r}: must be >= 0")
    with np.errstate(divide="ignore", invalid="ignore"):
        r = b * np.log1p(a / b) / _LN2  # log1p: exact for the weak-link end a << b
    return np.where(b > 0, r, 0.0)


def latency_s(payload_bits, rate_bps):
    """payload / rate seconds; zero payload takes 0 s, a positive payload at rate 0 takes inf."""
    q = np.asarray(payload_bits, dtype=float)
    r = np.asarray(rate_bps, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = q / r
    return np.where(q > 0, np.where(r > 0, t, np.inf), 0.0)


def energy_j(tx_power_w, latency_s):
    """Transmit energy p * latency (J)."""
    return np.asarray(tx_power_w, dtype=float) * np.asarray(latency_s, dtype=float)


def edge_cost(payload_bits, rate_bps, beta_tau):
    """The paper's per-edge cost c = payload + beta_tau * payload / rate (eq. 8); beta_tau: cost per s."""
    return np.asarray(payload_bits, dtype=float) + beta_tau * latency_s(payload_bits, rate_bps)


def _first_bad(x: np.ndarray, mask: np.ndarray):
    bad = mask | np.isnan(x)
    return float(x[bad].flat[0]) if np.any(bad) else None
