"""KD-Unlearn: the projection, then DGD with an extra KL(base ‖ model) term toward the frozen base model's
outputs during the correction window."""

from __future__ import annotations

import torch

from wirelora.correction.methods.base import Correction

__all__ = ["KDUnlearn"]


class KDUnlearn(Correction):
    name = "kd_unlearn"

    def penalty(self, state, logits: torch.Tensor, batch) -> torch.Tensor | None:
        """kd_weight · T² · KL(base ‖ model) per device : [M], averaged over the labelled positions."""
        if not self.in_window(state.round):
            return None
        base = state.base_logits(batch.x).reshape(logits.shape)  # [M, b, (T,) C]
        t = self.ctx.correction.kd_temperature
        lp_base = torch.log_softmax(base / t, dim=-1)
        lp = torch.log_softmax(logits / t, dim=-1)
        kl = (lp_base.exp() * (lp_base - lp)).sum(dim=-1)  # [M, b, (T)]
        from wirelora.learning.tasks import IGNORE_INDEX  # the task's padding label (learning is later)

        valid = (batch.y != IGNORE_INDEX).to(kl.dtype) if batch.y.shape == kl.shape else torch.ones_like(kl)
        rows = kl.shape[0]
        counts = valid.reshape(rows, -1).sum(dim=1).clamp_min(1.0)
        per_row = (kl * valid).reshape(rows, -1).sum(dim=1) / counts
        return self.ctx.correction.kd_weight * t * t * per_row
