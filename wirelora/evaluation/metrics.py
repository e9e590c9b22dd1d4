"""Metrics of a correction run (method.md §3, §9): event gap against the oracle, RI against the uniform arm,
forget quality, consensus, costs, stability. Pure NumPy functions of numbers and arrays (torch tensors are
converted); a History's per-round records feed them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

__all__ = [
    "event_gap",
    "forget_gap",
    "total_event_gap",
    "kl_divergence",
    "relative_improvement",
    "membership_auc",
    "forget_quality",
    "contribution_residual",
    "consensus_distance",
    "normalised",
    "CostSummary",
    "cost_summary",
    "normalised_costs",
    "best_vs_final",
]


def _np(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


def event_gap(retain_loss, oracle_retain_loss, join_loss=None, oracle_join_loss=None, lambda_j: float = 1.0):
    """E(k) = (L_retain − L*_retain) + λ_j (L_join − L*_join), broadcasting over rounds.

    The join part is omitted (0) when either join loss is None (no joiner in this event).
    """
    gap = _np(retain_loss) - _np(oracle_retain_loss)
    if join_loss is not None and oracle_join_loss is not None:
        gap = gap + lambda_j * (_np(join_loss) - _np(oracle_join_loss))
    return gap


def kl_divergence(p_logits, q_logits) -> float:
    """mean over inputs of KL(softmax(p) ‖ softmax(q)) in nats. logits : [..., classes], same shape."""
    p, q = _np(p_logits), _np(q_logits)
    if p.shape != q.shape:
        raise ValueError(f"logits: shapes differ, {p.shape} vs {q.shape}")
    from scipy.special import log_softmax

    lp, lq = log_softmax(p, axis=-1), log_softmax(q, axis=-1)
    return float(np.mean(np.sum(np.exp(lp) * (lp - lq), axis=-1)))


def forget_gap(oracle_logits, model_logits) -> float:
    """KL(oracle ‖ model) on the leaver's inputs (docs/method.md §3: the oracle's prediction is the desired
    response)."""
    return kl_divergence(oracle_logits, model_logits)


def total_event_gap(event_gap_value, forget_gap_value, lambda_f: float = 1.0):
    """E_FU = event_gap + λ_f · forget_gap."""
    return _np(event_gap_value) + lambda_f * _np(forget_gap_value)


def relative_improvement(loss_uniform, loss_method):
    """RI(k) = 100 (L_uniform(k) − L_method(k)) / L_uniform(k) in %, broadcasting over rounds."""
    lu = _np(loss_uniform)
    if np.any(lu == 0):
        raise ValueError("loss_uniform: contains 0, RI is undefined there")
    return 100.0 * (lu - _np(loss_method)) / lu


def membership_auc(member_losses, nonmember_losses) -> float:
    """AUC of the loss-threshold membership attack: P(loss of a member < loss of a non-member), ties count ½.

    0.5 = the attacker cannot tell training data from held-out data. Mann–Whitney U (scipy.stats) / (n_a n_b).
    """
    a, b = _np(member_losses).ravel(), _np(nonmember_losses).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError(f"membership_auc: needs both sets non-empty, got {a.size} and {b.size}")
    from scipy.stats import mannwhitneyu

    # U of the non-members = pairs with member loss < non-member loss (+ ½ per tie); the p-value is unused
    u_nonmember_above = mannwhitneyu(b, a, method="asymptotic").statistic
    return float(u_nonmember_above / (a.size * b.size))


def forget_quality(
    *, loss, accuracy, oracle_loss, oracle_accuracy, mia_auc=None, oracle_mia_auc=None
) -> dict:
    """Forget quality on the leaver's data relative to the oracle (0 = indistinguishable from retraining).

    Returns loss_gap = loss − oracle_loss, accuracy_gap = accuracy − oracle_accuracy and, if given, mia_gap =
    |AUC − oracle AUC|.
    """
    out = {
        "loss_gap": float(loss) - float(oracle_loss),
        "accuracy_gap": float(accuracy) - float(oracle_accuracy),
    }
    if mia_auc is not None and oracle_mia_auc is not None:
        out["mia_gap"] = abs(float(mia_auc) - float(oracle_mia_auc))
    return out


def contribution_residual(delta_weights, leaver_bases) -> float:
    """‖ΔW·A_u‖_F / ‖ΔW‖_F over all adapted layers (0: nothing of the leaver's directions remains).

    delta_weights : [out, in] per layer (a list, or one array); leaver_bases : [in, r] per layer, matching.
    """
    dws = delta_weights if isinstance(delta_weights, list | tuple) else [delta_weights]
    aus = leaver_bases if isinstance(leaver_bases, list | tuple) else [leaver_bases]
    if len(dws) != len(aus):
        raise ValueError(f"contribution_residual: {len(dws)} delta weights but {len(aus)} bases")
    num = sum(float(np.sum((_np(w) @ _np(a)) ** 2)) for w, a in zip(dws, aus))
    den = sum(float(np.sum(_np(w) ** 2)) for w in dws)
    return float(np.sqrt(num / den)) if den > 0 else 0.0


def consensus_distance(blocks) -> float:
    """mean_i ‖B_i − B̄‖² summed over layers. blocks : [M, ...] (one array or a list of arrays, one per
    layer)."""
    arrays = blocks if isinstance(blocks, list | tuple) else [blocks]
    total = 0.0
    for b in arrays:
        b = _np(b)
        flat = b.reshape(b.shape[0], -1)
        total = total + np.sum((flat - flat.mean(axis=0)) ** 2, axis=1)
    return float(np.mean(total))


def normalised(value, reference):
    """value / reference (a cost relative to the uniform arm's)."""
    ref = _np(reference)
    if np.any(ref <= 0):
        raise ValueError(f"reference={ref.tolist()!r}: must be > 0 to normalise")
    return _np(value) / ref


@dataclasses.dataclass(frozen=True)
class CostSummary:
    """What a correction run spent. rounds : correction rounds; local_steps : Σ over rounds, devices and
    groups of local steps weighted by the group's parameter share (compute); bits : bits sent (both
    directions); stored_bytes_per_device : extra state a device keeps for unlearning (FedEraser's gradients,
    EWC's Fisher); latency_s, energy_j : Σ over rounds of the round latency and the transmit energy."""

    rounds: int
    local_steps: float
    bits: float
    stored_bytes_per_device: float
    latency_s: float = 0.0
    energy_j: float = 0.0


def cost_summary(
    *, local_steps, bits, stored_bytes_per_device=0.0, latency_s=None, energy_j=None
) -> CostSummary:
    """Sum the per-round costs : [K] (None -> 0) into a CostSummary."""
    steps = _np(local_steps)
    return CostSummary(
        rounds=int(steps.size),
        local_steps=float(steps.sum()),
        bits=float(_np(bits).sum()),
        stored_bytes_per_device=float(stored_bytes_per_device),
        latency_s=float(_np(latency_s).sum()) if latency_s is not None else 0.0,
        energy_j=float(_np(energy_j).sum()) if energy_j is not None else 0.0,
    )


def normalised_costs(method: CostSummary, uniform: CostSummary, *, comm_weight: float = 0.5) -> dict:
    """Table III's columns: NormComm = bits / bits_uniform, NormCompute = steps / steps_uniform,
    NormTotal = w NormComm + (1 − w) NormCompute (**[W]** the paper does not give its weights; w = ½)."""
    if not 0 <= comm_weight <= 1:
        raise ValueError(f"comm_weight={comm_weight!r}: must be in [0, 1]")
    comm = float(normalised(method.bits, uniform.bits))
    compute = float(normalised(method.local_steps, uniform.local_steps))
    return {
        "norm_comm": comm,
        "norm_compute": compute,
        "norm_total": comm_weight * comm + (1 - comm_weight) * compute,
    }


def best_vs_final(gaps: Sequence[float]) -> dict:
    """Stability of a gap curve : [K + 1]: best and final value, the round of the best, whether it is
    monotone non-increasing, and the overshoot (final − best, ≥ 0)."""
    g = _np(gaps)
    if g.ndim != 1 or g.size == 0:
        raise ValueError(f"gaps: expected a non-empty 1-D sequence, got shape {g.shape}")
    k = int(np.argmin(g))
    return {
        "best": float(g[k]),
        "best_round": k,
        "final": float(g[-1]),
        "monotone": bool(np.all(np.diff(g) <= 1e-12)),
        "overshoot": float(g[-1] - g[k]),
    }
