"""What the proposed method's rules read off the post-event state, per layer group (docs/method.md §4).

:func:`group_fisher_scores` is Algorithm 1's priority score, :func:`group_observables` the dominant-residual
rule's inputs; both on the members' columns only (a free or removed slot carries no signal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from wirelora.correction import priority as _prio
from wirelora.correction import residual_rule as _rr

__all__ = ["member_columns", "group_fisher_scores", "group_observables"]


def member_columns(state, name: str, devices: Sequence[str] | None = None) -> torch.Tensor:
    """[len(devices) · r] int64: the columns of the devices' blocks (default: the members') in layer
    ``name``."""
    devices = list(state.members if devices is None else devices)
    cols = [
        torch.arange(state.adapter.slot_columns(d, name).start, state.adapter.slot_columns(d, name).stop)
        for d in devices
    ]
    return torch.cat(cols).to(state.device)


def group_fisher_scores(state, *, num_samples: int) -> tuple[np.ndarray, dict[str, float]]:
    """Algorithm 1 at the post-projection consensus: S_g = λ_max(F_g) · mean_i ‖∇_{B^(g)} L_i‖²_F : [G].

    F_g from per-sample gradients of the group's factor restricted to the members' columns; the device
    gradients from each member's local training loss. Also returns λ_max(F_g) per group (the smoothness L̂).
    """
    point = state.consensus()
    dev = state.local_gradients(point)  # {layer: [M, out, S]}
    scores, lmax = [], {}
    for g in state.group_names:
        ps = state.per_sample_gradients(g, point=point, num_samples=num_samples)
        per_layer = [ps[n][:, :, member_columns(state, n)] for n in state.groups[g]]
        dev_layer = [dev[n][:, :, member_columns(state, n)] for n in state.groups[g]]
        top = _prio.top_eigenvalue(_prio.empirical_fisher(per_layer))
        lmax[g] = top
        scores.append(top * _prio.gradient_energy(dev_layer))
    return np.asarray(scores), lmax


def group_observables(state, smoothness: Mapping[str, float]) -> _rr.Observables:
    """The dominant-residual rule's observables per group at the current consensus."""
    dev = state.local_gradients(state.consensus())
    energy, spread, dis = [], [], []
    for g in state.group_names:
        layers = [dev[n][:, :, member_columns(state, n)] for n in state.groups[g]]
        mean = [a.mean(dim=0, keepdim=True) for a in layers]
        energy.append(_prio.gradient_energy(mean))
        spread.append(_prio.gradient_spread(layers))
        dis.append(state.consensus_distance(g))
    return _rr.Observables(
        grad_energy=np.array(energy),
        grad_spread=np.array(spread),
        disagreement=np.array(dis),
        smoothness=np.array([smoothness[g] for g in state.group_names]),
    )
