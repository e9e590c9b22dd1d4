"""Raw run configs of the tiny-MLP clusters runs the tests share (conftest puts tests/ on sys.path)."""

import copy

BASE = {
    "name": "t",
    "model": {"name": "tiny-mlp"},
    "task": {
        "kind": "clusters",
        "num_devices": 5,
        "initial_devices": 4,
        "train_per_device": 16,
        "eval_per_device": 8,
    },
    "trainer": {"rounds": 6, "batch_size": 8, "step_size": 0.02, "checkpoint_every": 2},
    "events": [{"round": 2, "leave": ["d1"]}, {"round": 4, "join": ["d4"]}],
}

# A corrected run: four devices, d0 leaves, the oracle retrains from scratch for comparison.
CORRECTED = {
    "seed": 0,
    "task.num_devices": 4,
    "trainer.checkpoint_every": 0,
    "oracle": {"enabled": True, "rounds": 5},
}


def tiny_run_raw(**over) -> dict:
    """A fresh copy of BASE with over applied: "section.leaf" sets a leaf, "section" replaces the section."""
    raw = copy.deepcopy(BASE)
    for key, value in over.items():
        section, _, leaf = key.partition(".")
        if leaf:
            raw.setdefault(section, {})[leaf] = value
        else:
            raw[section] = value
    return raw


def corrected_run_raw(**over) -> dict:
    """tiny_run_raw with CORRECTED, then over, applied."""
    return tiny_run_raw(**{**CORRECTED, **over})
