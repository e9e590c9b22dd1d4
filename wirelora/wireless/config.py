"""The wireless section of a run config (``wireless:``): the channel and the joint round's radio settings.

This is the one home of the channel constants (disc radius, transmit power, noise PSD; docs/method.md §7): the
channel model, the allocation scenarios and the joint correction round read their defaults from here.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from wirelora.config import check_choice, check_positive, require

__all__ = ["GRAPHS", "WirelessConfig"]

GRAPHS = ("random", "channel_aware")


@dataclasses.dataclass(frozen=True)
class WirelessConfig:
    """The wireless side of a run (the top-level ``wireless:`` section of a run config).

    total_bandwidth_hz : B_tot per round. latency_cap_s : τ_max per link (None: no cap). budget_cost : C_t,
    the per-round budget on Σ_g Σ_e c_ge in bits (None: no budget); beta_tau : β_τ, the cost of a second of
    latency in bits. graph : "random" (density γ_g) or "channel_aware" (the strongest links). damping : the
    mixing weight of W(γ) = (1 − γ) I + γ W (None: the trainer's ``gamma``; the policy's γ_g sets the
    density). radius_m, tx_power_dbm, noise_psd_dbm_hz : the channel (method.md §7). max_iterations : BCD
    iterations per round. The bits per scalar q_b are the trainer's (``trainer.bits_per_scalar``).
    """

    total_bandwidth_hz: float = 10e6
    latency_cap_s: float | None = None
    budget_cost: float | None = None
    beta_tau: float = 1e6
    graph: str = "random"
    damping: float | None = None
    radius_m: float = 250.0
    tx_power_dbm: float = 20.0
    noise_psd_dbm_hz: float = -174.0
    max_iterations: int = 200

    def __post_init__(self):
        check_positive("wireless.total_bandwidth_hz", self.total_bandwidth_hz)
        if self.latency_cap_s is not None:
            check_positive("wireless.latency_cap_s", self.latency_cap_s)
        if self.budget_cost is not None:
            check_positive("wireless.budget_cost", self.budget_cost)
        check_positive("wireless.beta_tau", self.beta_tau)
        check_choice("wireless.graph", self.graph, GRAPHS)
        if self.damping is not None:
            require(0 < self.damping <= 1, "wireless.damping", self.damping, "must be in (0, 1] or null")
        check_positive("wireless.radius_m", self.radius_m)
        require(np.isfinite(self.tx_power_dbm), "wireless.tx_power_dbm", self.tx_power_dbm, "must be finite")
        require(
            np.isfinite(self.noise_psd_dbm_hz),
            "wireless.noise_psd_dbm_hz",
            self.noise_psd_dbm_hz,
            "must be finite",
        )
        require(
            isinstance(self.max_iterations, int) and self.max_iterations >= 1,
            "wireless.max_iterations",
            self.max_iterations,
            "must be an integer >= 1",
        )

    def damping_for(self, gamma: np.ndarray, default: float) -> np.ndarray:
        """The mixing weight per group: the fixed ``damping``, or ``default`` (the trainer's γ) if None."""
        value = self.damping if self.damping is not None else default
        return np.full(np.shape(gamma), float(value))
