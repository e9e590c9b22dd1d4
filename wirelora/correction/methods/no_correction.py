"""No correction: the projection and nothing else (no local steps, no gossip): the post-event floor."""

from __future__ import annotations

from wirelora.correction import plan as _plan
from wirelora.correction.methods.base import Correction

__all__ = ["NoCorrection"]


class NoCorrection(Correction):
    name = "no_correction"

    def make_plan(self, state) -> _plan.GroupPlan:
        return _plan.no_correction_schedule(len(state.group_names))
