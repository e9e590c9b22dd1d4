"""Full Retrain: every copy is replaced by a model retrained from zero on the post-event members' data (the
oracle; its training rounds are charged as cost), then the uniform schedule."""

from __future__ import annotations

from wirelora.correction.methods.base import Correction

__all__ = ["Retrain"]


class Retrain(Correction):
    name = "retrain"

    def correct(self, state, event) -> None:
        from wirelora.learning.oracle import train_oracle

        blocks = state.oracle["blocks"] if state.oracle is not None else train_oracle(state, None)
        m = len(state.members)
        state.blocks = {n: b.detach().unsqueeze(0).expand(m, *b.shape).clone() for n, b in blocks.items()}
        oc = state.config.oracle
        self._charge_exchange(state, rounds=oc.rounds, local_steps=oc.rounds * oc.local_steps * m)
        state.anchor = {n: b.detach().clone() for n, b in state.consensus().items()}
