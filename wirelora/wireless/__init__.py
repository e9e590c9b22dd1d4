"""Wireless models (NumPy only): channel (placement, path loss, fading, link SNR) and rates."""

from wirelora.wireless.channel import (
    ChannelConfig,
    channel_snr_hz,
    free_space_path_loss_db,
    link_gain_lin,
    link_snr_hz,
    pairwise_distance_m,
    path_loss_db,
    place_devices,
    rayleigh_fading,
)
from wirelora.wireless.rates import edge_cost, energy_j, latency_s, shannon_rate_bps

__all__ = [
    "ChannelConfig",
    "channel_snr_hz",
    "edge_cost",
    "energy_j",
    "free_space_path_loss_db",
    "latency_s",
    "link_gain_lin",
    "link_snr_hz",
    "pairwise_distance_m",
    "path_loss_db",
    "place_devices",
    "rayleigh_fading",
    "shannon_rate_bps",
]
