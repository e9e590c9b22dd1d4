"""EWC-leave/join: the projection, then the proximal anchor is the *pre-event* consensus (with the leaver's
block zeroed), weighted per parameter by the diagonal empirical Fisher of the remaining devices, under the
uniform schedule with EWC's own proximal weight ``correction.ewc_weight``."""

from __future__ import annotations

import numpy as np
import torch

from wirelora.correction import plan as _plan
from wirelora.correction.methods.base import Correction

__all__ = ["EWC"]


class EWC(Correction):
    name = "ewc"

    def __init__(self, ctx):
        super().__init__(ctx)
        self._pre_event: dict[str, torch.Tensor] | None = None  # {layer: [out, S]}, taken in before_event

    def before_event(self, state, event) -> None:
        super().before_event(state, event)
        self._pre_event = state.consensus()

    def correct(self, state, event) -> None:
        anchor = {n: p.clone() for n, p in self._pre_event.items()}
        self._pre_event = None
        for cols in self.leaver_cols.values():
            for n, c in cols.items():
                anchor[n][:, c] = 0.0  # the leaver's block stays removed
        weights = {}
        for g in state.group_names:
            ps = state.per_sample_gradients(g, point=anchor, num_samples=self.ctx.correction.fisher_samples)
            for n in state.groups[g]:
                f = (ps[n] ** 2).mean(dim=0)  # [out, S] diagonal empirical Fisher
                weights[n] = f / f.mean().clamp_min(1e-30)  # mean weight 1: ewc_weight sets the strength
        state.anchor = anchor
        state.prox_weight = weights
        self.costs["stored_bytes_per_device"] += float(sum(4 * 2 * w.numel() for w in weights.values()))

    def make_plan(self, state) -> _plan.GroupPlan:
        uniform = super().make_plan(state)
        return uniform.replace(prox=np.full(len(state.group_names), self.ctx.correction.ewc_weight))
