"""FedEraser-D2D's stored updates: every ``interval`` rounds, each member keeps a copy of its own block.

Recorded from round 0 by the method itself (its ``schedule`` hook), kept in the trainer checkpoint through
:meth:`UpdateRecorder.state_dict`, so that a resumed run replays the same updates.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

__all__ = ["UpdateRecorder"]


class UpdateRecorder:
    """snapshots : {device: [{layer: [out, r]} per stored round]}, float32 on the CPU."""

    def __init__(self, interval: int):
        self.interval = int(interval)
        self.snapshots: dict[str, list[dict[str, torch.Tensor]]] = {}

    def record(self, state, round_index: int) -> None:
        """Store every member's own block at the start of ``round_index`` if it is a storing round."""
        if round_index % self.interval != 0:
            return
        for m, d in enumerate(state.members):
            own = {
                n: state.blocks[n][m][:, state.adapter.slot_columns(d, n)].detach().cpu().clone()
                for n in state.layer_names
            }
            self.snapshots.setdefault(d, []).append(own)

    def stored_bytes(self, device: str) -> float:
        """Bytes ``device`` keeps: every stored copy of its own block, float32."""
        return float(sum(4 * t.numel() for s in self.snapshots[device] for t in s.values()))

    def state_dict(self) -> dict:
        return {"interval": self.interval, "snapshots": self.snapshots}

    def load_state_dict(self, d: Mapping) -> None:
        self.interval = int(d["interval"])
        self.snapshots = {k: list(v) for k, v in d["snapshots"].items()}
