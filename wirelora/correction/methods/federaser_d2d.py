"""FedEraser-D2D: FedEraser adapted to D2D (method.md §8).

Every device stores its own block every ``correction.federaser_interval`` rounds from round 0 (the stored
bytes; :class:`~wirelora.correction.methods.recorder.UpdateRecorder`). At a leave, the model is rebuilt from
zero without the leaver: for each stored interval, every remaining device runs
``federaser_calibration_steps`` local steps on its own data from the rebuilt model, and the calibrated update
is rescaled to the norm of its stored one (times ``federaser_scale``). Nothing to undo at a join.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from wirelora.correction.methods.base import Correction
from wirelora.correction.methods.recorder import UpdateRecorder
from wirelora.correction.schedule import GroupSchedule, Schedule

__all__ = ["FedEraserD2D"]


class FedEraserD2D(Correction):
    name = "federaser_d2d"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.recorder = UpdateRecorder(ctx.correction.federaser_interval)

    def schedule(self, state, round_index: int) -> Schedule | None:
        self.recorder.record(state, round_index)  # keeps storing updates, for later events too
        return super().schedule(state, round_index)

    def correct(self, state, event) -> None:
        if not event.leave:  # an unlearning method: nothing to undo at a join
            return
        snaps = self.recorder.snapshots
        members = list(state.members)
        if any(d not in snaps for d in members):
            missing = next(d for d in members if d not in snaps)
            raise ValueError(
                f"correction.method='federaser_d2d': no stored update of {missing} before the leave at round "
                f"{event.round} (correction.federaser_interval={self.recorder.interval})"
            )
        cc = self.ctx.correction
        num = min(len(snaps[d]) for d in members)
        stored = [self.recorder.stored_bytes(d) for d in members]
        self.costs["stored_bytes_per_device"] += float(np.mean(stored))
        state.anchor, state.prox_weight = None, None  # calibration is plain local training
        rebuilt = {n: torch.zeros_like(b[0]) for n, b in state.blocks.items()}  # [out, S]: from zero
        tc = state.config.trainer
        m = len(members)
        calib = max(1, int(cc.federaser_calibration_steps))
        adjacency = ~np.eye(m, dtype=bool) if m > 1 else np.zeros((1, 1), dtype=bool)
        sched = Schedule(
            groups={
                g: GroupSchedule(
                    local_steps=calib,
                    step_size=tc.step_size,
                    prox=0.0,
                    gamma=0.0,
                    sync_period=1,
                    adjacency=adjacency,
                )
                for g in state.group_names
            }
        )
        for j in range(num - 1):
            state.blocks = {n: b.unsqueeze(0).expand(m, *b.shape).clone() for n, b in rebuilt.items()}
            state.local_steps(sched, state.round, None, tag=5000 + j)
            for mi, d in enumerate(members):
                for n in state.layer_names:
                    c = state.adapter.slot_columns(d, n)
                    calibrated = state.blocks[n][mi][:, c] - rebuilt[n][:, c]  # Ũ_i
                    stored = snaps[d][j + 1][n].to(state.device) - snaps[d][j][n].to(state.device)  # U_i
                    norm = torch.linalg.matrix_norm(calibrated).clamp_min(1e-30)
                    rebuilt[n][:, c] = rebuilt[n][:, c] + cc.federaser_scale * calibrated * (
                        torch.linalg.matrix_norm(stored) / norm
                    )
        state.blocks = {n: b.unsqueeze(0).expand(m, *b.shape).clone() for n, b in rebuilt.items()}
        state.anchor = {n: b.detach().clone() for n, b in state.consensus().items()}
        self._charge_exchange(state, rounds=num - 1, local_steps=(num - 1) * calib * m)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "recorder": self.recorder.state_dict()}

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        super().load_state_dict(d)
        self.recorder.load_state_dict(d["recorder"])
