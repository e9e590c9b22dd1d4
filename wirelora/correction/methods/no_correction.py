"""No correction: the projection and nothing else (no local steps, no gossip): the post-event floor."""

from __future__ import annotations

from wirelora.correction import policy as _policy
from wirelora.correction.methods.base import Correction

__all__ = ["NoCorrection"]


class NoCorrection(Correction):
    name = "no_correction"

    def make_plan(self, state) -> _policy.GroupPlan:
        return _policy.no_correction_schedule(len(state.group_names))
