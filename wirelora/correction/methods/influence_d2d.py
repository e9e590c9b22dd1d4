"""Influence-D2D: the projection, then one Gauss-Newton (influence-function) step on the remaining devices'
objective with a block-diagonal curvature, then plain DGD under the uniform schedule.

Per adapted layer, the column-space empirical Fisher F_l = mean_s G_sᵀ G_s (+ damping δ relative to its mean
eigenvalue), B ← B − scale · ḡ (F_l + δI)⁻¹ on the members' columns, installed on every device. Charged as
one round of gradient exchange (to average ḡ and F) and one Newton step per device.
"""

from __future__ import annotations

import torch

from wirelora.correction.methods.base import Correction
from wirelora.correction.methods.observables import member_columns

__all__ = ["InfluenceD2D"]


class InfluenceD2D(Correction):
    name = "influence_d2d"

    def correct(self, state, event) -> None:
        cc = self.ctx.correction
        point = state.consensus()
        dev = state.local_gradients(point)  # {layer: [M, out, S]}
        new = {}
        for g in state.group_names:
            ps = state.per_sample_gradients(g, point=point, num_samples=self.ctx.correction.fisher_samples)
            for n in state.groups[g]:
                cols = member_columns(state, n)
                gs = ps[n][:, :, cols]  # [N, out, R]
                fisher = torch.einsum("sor,sot->rt", gs, gs) / gs.shape[0]  # [R, R]
                damp = cc.influence_damping * torch.trace(fisher) / fisher.shape[0] + 1e-12
                gbar = dev[n][:, :, cols].mean(dim=0)  # [out, R]
                eye = torch.eye(fisher.shape[0], dtype=fisher.dtype, device=fisher.device)
                step = torch.linalg.solve(fisher + damp * eye, gbar.T).T
                b = point[n].clone()
                b[:, cols] = b[:, cols] - cc.influence_scale * step
                new[n] = b
        m = len(state.members)
        state.blocks = {n: new[n].unsqueeze(0).expand(m, *new[n].shape).clone() for n in state.layer_names}
        state.anchor = {n: b.detach().clone() for n, b in state.consensus().items()}
        self._charge_exchange(state, rounds=1, local_steps=m)
