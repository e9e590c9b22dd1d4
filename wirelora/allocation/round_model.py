"""The round beyond fixed-power FDMA bandwidth: transmit power and CPU frequency as variables, computation
before the upload, TDMA access and the energy + time objective (validated inputs; docs/method.md §7).

A round of entry k takes t_cmp,k + t_up,k: its local computation (compute_time_s, or cycles / f_k with
cycles = compute_cycles x samples) and then its upload. Computation energy is kappa cycles f_k^2 (Yang et al.,
TWC 2021). With max_tx_power_w the transmit power is a variable in [0, max_tx_power_w] and link_snr_hz is the
SNR over 1 Hz at max_tx_power_w; with max_cpu_hz the CPU frequency is a variable in (0, max_cpu_hz].
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from wirelora.allocation import closed_form as cf

__all__ = ["ACCESS", "RoundInputs", "RoundModel", "build_round_model", "check_round_range"]

# Beyond these ratios double precision loses the quantities the solvers form (an upload time against the
# computation before it; the spectral efficiency q ln2 / (tau b) whose square F(u) ~ u^2 / 2 sets the band
# price): ValueError naming the field, never an overflow, NaN or an infinite latency reported as optimal.
_COMPUTE_OVER_UPLOAD_MAX = 1e13  # t_cmp / (q / R(B_tot)): the upload is resolved to ~1e-3 within the round
_CAP_OVER_FLOOR_MAX = 1e50  # latency_cap_s / (q / a)

ACCESS = ("fdma", "tdma")


@dataclass(frozen=True)
class RoundInputs:
    """The round model's inputs as ``allocate`` takes them (None = absent), passed unvalidated from
    ``allocate`` to ``AllocationProblem.build`` to ``build_round_model``, which checks them."""

    max_tx_power_w: object = None
    compute_time_s: object = None
    compute_cycles: object = None
    samples: object = None
    cpu_hz: object = None
    max_cpu_hz: object = None
    kappa: object = None
    access: str = "fdma"
    time_weight_j_per_s: object = None

    @classmethod
    def split(cls, kwargs: dict) -> tuple[dict, RoundInputs]:
        """(the other keyword arguments, RoundInputs) from ``allocate``'s keyword arguments."""
        names = {f.name for f in fields(cls)}
        rest = {k: v for k, v in kwargs.items() if k not in names}
        return rest, cls(**{k: v for k, v in kwargs.items() if k in names})

    def extended(self, objective: str) -> bool:
        """Whether the problem needs the round model (else the plain bandwidth problem, unchanged)."""
        extras = (self.max_tx_power_w, self.compute_time_s, self.compute_cycles, self.samples, self.cpu_hz)
        return (
            objective == "energy_time"
            or self.access != "fdma"
            or self.time_weight_j_per_s is not None
            or any(x is not None for x in (*extras, self.max_cpu_hz, self.kappa))
        )


@dataclass(frozen=True)
class RoundModel:
    """The validated extra inputs, arrays of the payload's shape (None = absent).

    pmax : max_tx_power_w (power is a variable); p : tx_power_w (fixed power); compute_s : the fixed
    computation time (or, with cpu_max, the time at the fastest CPU); cycles : CPU cycles of the round;
    cpu_max : max_cpu_hz (the CPU frequency is a variable); cpu_hz : a fixed CPU frequency; kappa :
    effective switched capacitance; access : fdma | tdma; time_weight : J per s of round latency
    (energy_time).
    """

    pmax: np.ndarray | None
    compute_s: np.ndarray | None
    cycles: np.ndarray | None
    cpu_max: np.ndarray | None
    cpu_hz: np.ndarray | None
    kappa: float | None
    access: str
    time_weight: float | None

    @property
    def cpu_variable(self) -> bool:
        return self.cpu_max is not None

    def offsets(self, q: np.ndarray) -> np.ndarray:
        """The computation time before each upload at the fastest allowed CPU (0 without computation)."""
        return np.zeros_like(q) if self.compute_s is None else self.compute_s

    def compute_energy_j(self, f_hz: np.ndarray | None) -> np.ndarray | None:
        """kappa cycles f^2 per entry (None without kappa)."""
        if self.kappa is None or f_hz is None:
            return None
        return self.kappa * self.cycles * f_hz**2


def broadcast_entries(field, value, q, *, allow_zero=False, number="a number"):
    """value broadcast to the payload's shape, checked on the used entries (None stays None).

    ValueError names the field: ``number`` is how the message calls a valid scalar ("a number > 0")."""
    if value is None:
        return None
    try:
        x = np.broadcast_to(np.asarray(value, dtype=float), q.shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"{field}={value!r}: must be {number} or an array broadcastable to the payload {q.shape}"
        ) from None
    cf._check_array(field, np.where(q > 0, x, 1.0), allow_zero=allow_zero)
    return np.array(x)


def build_round_model(q: np.ndarray, objective: str, inputs: RoundInputs, tx_power_w=None) -> RoundModel:
    """Validate the round inputs (ValueError names the first bad field)."""
    if inputs.access not in ACCESS:
        raise ValueError(f"access={inputs.access!r}: must be one of {', '.join(ACCESS)}")
    if inputs.max_tx_power_w is not None and tx_power_w is not None:
        raise ValueError(
            "tx_power_w: give either tx_power_w (fixed power) or max_tx_power_w (power a variable), not both"
        )
    pmax = broadcast_entries("max_tx_power_w", inputs.max_tx_power_w, q)
    compute_s = broadcast_entries("compute_time_s", inputs.compute_time_s, q, allow_zero=True)
    cycles = cpu_max = f_fixed = None
    if inputs.compute_cycles is not None or inputs.samples is not None:
        if compute_s is not None:
            raise ValueError(
                "compute_time_s: give either compute_time_s or compute_cycles and samples, not both"
            )
        if inputs.compute_cycles is None or inputs.samples is None:
            raise ValueError("compute_cycles: compute_cycles (per sample) and samples go together")
        with np.errstate(over="ignore"):
            per_sample = broadcast_entries("compute_cycles", inputs.compute_cycles, q)
            cycles = per_sample * broadcast_entries("samples", inputs.samples, q)
        _check_finite("compute_cycles x samples", cycles, q)
        if (inputs.cpu_hz is None) == (inputs.max_cpu_hz is None):
            raise ValueError(
                "cpu_hz: compute_cycles needs exactly one of cpu_hz (fixed) or max_cpu_hz (a variable)"
            )
        cpu_max = broadcast_entries("max_cpu_hz", inputs.max_cpu_hz, q)
        f_fixed = broadcast_entries("cpu_hz", inputs.cpu_hz, q)
        with np.errstate(over="ignore", under="ignore"):
            compute_s = cycles / (f_fixed if cpu_max is None else cpu_max)
        _check_finite("compute_time_s (compute_cycles x samples / cpu_hz)", compute_s, q)
    elif inputs.cpu_hz is not None or inputs.max_cpu_hz is not None:
        raise ValueError("compute_cycles=None: cpu_hz and max_cpu_hz need compute_cycles and samples")
    k = None
    if inputs.kappa is not None:
        if cycles is None:
            raise ValueError("kappa: the computation energy kappa cycles f^2 needs compute_cycles, samples")
        k = cf._scalar("kappa", inputs.kappa)
    w = None
    if objective == "energy_time":
        if inputs.time_weight_j_per_s is None:
            raise ValueError("time_weight_j_per_s=None: objective='energy_time' needs the weight (J per s)")
        w = cf._scalar("time_weight_j_per_s", inputs.time_weight_j_per_s)
    elif inputs.time_weight_j_per_s is not None:
        raise ValueError(
            f"time_weight_j_per_s={inputs.time_weight_j_per_s!r}: only for objective='energy_time'"
        )
    return RoundModel(pmax, compute_s, cycles, cpu_max, f_fixed, k, inputs.access, w)


def check_round_range(q, a, total, cap, rm: RoundModel) -> None:
    """ValueError naming the field where the round inputs lie beyond what double precision resolves."""
    from wirelora.wireless.rates import shannon_rate_bps

    used = q > 0
    fastest = np.where(used, q / shannon_rate_bps(total, np.where(used, a, 1.0)), 1.0)  # all of the band
    c = rm.offsets(q)
    bad = used & (c > _COMPUTE_OVER_UPLOAD_MAX * fastest)
    if np.any(bad):
        i = tuple(int(j) for j in np.argwhere(bad)[0])
        raise ValueError(
            f"compute_time_s{list(i)}={float(c[i])!r}: over {_COMPUTE_OVER_UPLOAD_MAX:g} times the entry's "
            f"fastest upload ({float(fastest[i]):.3g} s); double precision cannot resolve the upload"
        )
    if cap is not None:
        with np.errstate(over="ignore", divide="ignore"):
            ratio = np.where(used, cap * a / np.where(used, q, 1.0), 1.0)
        bad = used & ~(ratio <= _CAP_OVER_FLOOR_MAX)
        if np.any(bad):
            i = tuple(int(j) for j in np.argwhere(bad)[0])
            raise ValueError(
                f"latency_cap_s{list(i)}={float(cap[i])!r}: over {_CAP_OVER_FLOOR_MAX:g} times the entry's "
                f"payload_bits / link_snr_hz; beyond what double precision resolves"
            )
    if rm.kappa is not None:
        f = rm.cpu_max if rm.cpu_max is not None else rm.cpu_hz
        with np.errstate(over="ignore", under="ignore"):
            e = rm.kappa * rm.cycles * f**2
        bad = used & ~(np.isfinite(e) & (e >= np.finfo(float).tiny))
        if np.any(bad):
            i = tuple(int(j) for j in np.argwhere(bad)[0])
            raise ValueError(
                f"kappa={rm.kappa!r}: the computation energy kappa cycles f^2 at entry {list(i)} is "
                f"{float(e[i])!r} J, not representable"
            )


def _check_finite(field, x, q):
    bad = (q > 0) & ~np.isfinite(x)
    if np.any(bad):
        i = tuple(int(j) for j in np.argwhere(bad)[0])
        raise ValueError(f"{field}[{', '.join(map(str, i))}]={float(x[i])!r}: not representable")
