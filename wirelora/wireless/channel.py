"""D2D channel: device placement in a disc, path loss, Rayleigh block fading, link gains and per-Hz SNR.

Conventions (docs/method.md §7): path loss 128.1 + 37.6 log10(d / km) dB; Rayleigh block fading |g|^2 ~ Exp(1)
redrawn per round; ``link_snr_hz = p h / N0`` is the SNR over 1 Hz, so that
rate(b) = b log2(1 + link_snr_hz / b).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from wirelora.config import check_nonnegative, check_positive, require
from wirelora.units import db_to_lin, dbm_to_w
from wirelora.wireless.config import WirelessConfig

__all__ = [
    "ChannelConfig",
    "place_devices",
    "pairwise_distance_m",
    "path_loss_db",
    "free_space_path_loss_db",
    "rayleigh_fading",
    "link_gain_lin",
    "link_snr_hz",
    "channel_snr_hz",
]


@dataclass(frozen=True)
class ChannelConfig:
    """The wireless setting of docs/method.md §7 (defaults: :class:`WirelessConfig`'s)."""

    radius_m: float = WirelessConfig.radius_m
    tx_power_dbm: float = WirelessConfig.tx_power_dbm
    noise_psd_dbm_hz: float = WirelessConfig.noise_psd_dbm_hz
    interference_w: float = 0.0
    # interference is spread evenly over this band (only used when interference_w > 0)
    bandwidth_hz: float = 1e6
    # devices closer than this are treated as this far apart (the path-loss law is a far-field law)
    min_distance_m: float = 1.0
    fading: bool = True

    def __post_init__(self):
        check_positive("radius_m", self.radius_m)
        require(np.isfinite(self.tx_power_dbm), "tx_power_dbm", self.tx_power_dbm, "must be finite")
        require(
            np.isfinite(self.noise_psd_dbm_hz), "noise_psd_dbm_hz", self.noise_psd_dbm_hz, "must be finite"
        )
        check_nonnegative("interference_w", self.interference_w)
        check_positive("bandwidth_hz", self.bandwidth_hz)
        check_positive("min_distance_m", self.min_distance_m)


def place_devices(
    num_devices: int, radius_m: float = WirelessConfig.radius_m, *, rng: np.random.Generator
) -> np.ndarray:
    """Devices uniform in a disc of radius ``radius_m`` centred at the origin.

    Returns positions_m : [num_devices, 2] (metres).
    """
    if not isinstance(num_devices, int | np.integer) or num_devices < 1:
        raise ValueError(f"num_devices={num_devices!r}: must be an integer >= 1")
    check_positive("radius_m", radius_m)
    # sqrt of a uniform radius fraction: equal area, equal probability
    r = radius_m * np.sqrt(rng.random(num_devices))
    theta = 2.0 * np.pi * rng.random(num_devices)
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def pairwise_distance_m(positions_m: np.ndarray) -> np.ndarray:
    """positions_m : [M, D] -> distances : [M, M] (metres, symmetric, zero diagonal)."""
    x = np.asarray(positions_m, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"positions_m: must be [M, D], got shape {x.shape}")
    diff = x[:, None, :] - x[None, :, :]  # [M, M, D]
    return np.sqrt(np.sum(diff * diff, axis=-1))


def path_loss_db(distance_m):
    """3GPP-style D2D path loss: 128.1 + 37.6 log10(d / 1 km) dB. distance_m : any shape, > 0."""
    return 128.1 + 37.6 * np.log10(np.asarray(distance_m, dtype=float) / 1000.0)


def free_space_path_loss_db(distance_m, carrier_hz: float = 2.4e9):
    """Friis free-space path loss 20 log10(4 pi d f / c) dB: an alternative to pass as ``path_loss=``."""
    d = np.asarray(distance_m, dtype=float)
    return 20.0 * np.log10(4.0 * np.pi * d * carrier_hz / 299_792_458.0)


def rayleigh_fading(shape, *, rng: np.random.Generator) -> np.ndarray:
    """Rayleigh block-fading power gains |g|^2 ~ Exp(1) of the given shape."""
    return rng.exponential(1.0, size=shape)


def link_gain_lin(
    positions_m: np.ndarray,
    *,
    rng: np.random.Generator | None = None,
    fading: bool = True,
    path_loss: Callable = path_loss_db,
    min_distance_m: float = 1.0,
) -> np.ndarray:
    """Linear power gain of every D2D link.

    positions_m : [M, 2]. Returns gain_lin : [M, M], symmetric (reciprocal channel, one fading draw per link),
    zero on the diagonal. ``path_loss`` maps distance_m (any shape) to dB; ``fading`` needs ``rng``.
    """
    d = np.maximum(pairwise_distance_m(positions_m), min_distance_m)  # [M, M]
    m = d.shape[0]
    gain = db_to_lin(-np.asarray(path_loss(d), dtype=float))
    if fading:
        if rng is None:
            raise ValueError("rng=None: fading=True needs a np.random.Generator")
        iu, ju = np.triu_indices(m, k=1)
        fade = np.ones((m, m))
        draw = rayleigh_fading(iu.size, rng=rng)
        fade[iu, ju] = draw
        fade[ju, iu] = draw  # reciprocity: the same block-fading draw both ways
        gain = gain * fade
    np.fill_diagonal(gain, 0.0)
    return gain


def link_snr_hz(
    gain_lin,
    tx_power_dbm: float = WirelessConfig.tx_power_dbm,
    noise_psd_dbm_hz: float = WirelessConfig.noise_psd_dbm_hz,
    interference_w: float = 0.0,
    bandwidth_hz: float | None = None,
):
    """SNR over 1 Hz, a = p h / (N0 + I / B) in Hz, so that rate(b) = b log2(1 + a / b).

    gain_lin : any shape (linear). A fixed interference power ``interference_w`` (W) is treated as extra noise
    spread evenly over ``bandwidth_hz`` (required when interference_w > 0).
    """
    noise_psd_w_hz = dbm_to_w(noise_psd_dbm_hz)
    if interference_w < 0 or not np.isfinite(interference_w):
        raise ValueError(f"interference_w={interference_w!r}: must be a finite number >= 0")
    if interference_w > 0:
        if bandwidth_hz is None or not bandwidth_hz > 0:
            raise ValueError(
                f"bandwidth_hz={bandwidth_hz!r}: interference_w > 0 needs the band it spreads over"
            )
        noise_psd_w_hz = noise_psd_w_hz + interference_w / bandwidth_hz
    return dbm_to_w(tx_power_dbm) * np.asarray(gain_lin, dtype=float) / noise_psd_w_hz


def channel_snr_hz(
    num_devices: int, config: ChannelConfig = ChannelConfig(), *, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One draw of the whole setting: (positions_m [M, 2], link_snr_hz [M, M] with a zero diagonal)."""
    pos = place_devices(num_devices, config.radius_m, rng=rng)
    gain = link_gain_lin(pos, rng=rng, fading=config.fading, min_distance_m=config.min_distance_m)
    snr = link_snr_hz(
        gain, config.tx_power_dbm, config.noise_psd_dbm_hz, config.interference_w, config.bandwidth_hz
    )
    return pos, snr
