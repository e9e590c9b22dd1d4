"""A scenario turned into the arrays the allocator takes (what ``wirelora allocate`` solves, tabulates and
draws)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Problem"]


@dataclass(frozen=True)
class Problem:
    """A scenario turned into arrays. payload_bits : [E] or [G, L]; labels name the entries."""

    payload_bits: np.ndarray
    link_snr_hz: np.ndarray
    total_bandwidth_hz: float
    weights: np.ndarray
    tx_power_w: np.ndarray
    group_names: list[str]
    link_names: list[str]
    compute_time_s: np.ndarray | None = None  # per entry, from the links (None: the scenario's scalar)
    samples: np.ndarray | None = None
