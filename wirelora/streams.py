"""Named random streams: every random draw of a run comes from a generator derived from the run seed and a
stream name (plus the draw's indices), so that each draw is a pure function of (seed, name, indices): no
global seeding, no state to checkpoint, and resuming a run redraws the same numbers.

    rng = stream("batches", seed, tag, round_index, step)

The salts are the numbers the streams have always used (Histories stay bit-identical); a new stream needs a
new name and a salt no other stream uses.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SALTS", "stream"]

SALTS: dict[str, int] = {
    "task_data": 2718,  # learning.tasks: the synthetic task's data
    "churn_events": 31337,  # learning.events: sampled join / leave events
    "batches": 11,  # learning.step: minibatch indices per (tag, round, step)
    "round_graph": 7919,  # correction.schedule: the per-(round, group) random graph
    "fixed_graph": 7920,  # correction.schedule: the one draw of a fixed graph per group
    "joiner_link": 104729,  # correction.schedule: the member a joiner links to in a fixed graph
    "consensus_rate": 7,  # correction.joint: the graphs behind the expected consensus rate per density
    "channel_round": 48271,  # correction.joint: one correction round's fading and graphs
    "device_positions": 99,  # correction: device positions in the disc
}


def stream(name: str, seed: int, *indices: int) -> np.random.Generator:
    """The generator of stream ``name`` for run seed ``seed`` and the draw's integer ``indices``."""
    if name not in SALTS:
        raise ValueError(f"stream={name!r}: must be one of {', '.join(SALTS)}")
    return np.random.default_rng([int(seed), SALTS[name], *(int(i) for i in indices)])
