"""wirelora: dynamic decentralized LoRA fine-tuning over wireless D2D links.

Names are loaded lazily, so that ``import wirelora`` stays light (no cvxpy, peft or transformers until
used) and ``import wirelora.allocation`` never loads torch.
"""

from __future__ import annotations

import importlib
import sys

__version__ = "0.1.0"

if "ipykernel" in sys.modules:  # in Jupyter: before peft / transformers import tqdm.auto and it warns
    from wirelora.progress import hush_tqdm_auto

    hush_tqdm_auto()

# public name -> module that defines it (one explicit table; add a line when a public name is added)
_LAZY = {
    "units": "wirelora.units",
    "ConfigError": "wirelora.config",
    "InfeasibleError": "wirelora.errors",
    "SolverError": "wirelora.errors",
    "DivergenceError": "wirelora.errors",
    "metropolis_weights": "wirelora.network.topology",
    "random_connected_graph": "wirelora.network.topology",
    "consensus_rate": "wirelora.network.topology",
    "ChannelConfig": "wirelora.wireless.channel",
    "place_devices": "wirelora.wireless.channel",
    "link_gain_lin": "wirelora.wireless.channel",
    "link_snr_hz": "wirelora.wireless.channel",
    "shannon_rate_bps": "wirelora.wireless.rates",
    "allocate": "wirelora.allocation",
    "Allocation": "wirelora.allocation",
    "BandwidthAllocator": "wirelora.allocation",
    "Budget": "wirelora.allocation",
    "OrthogonalLoRA": "wirelora.lora.adapter",
    "project_out": "wirelora.lora.projection",
    "SlotTable": "wirelora.lora.slots",
    "ModelCard": "wirelora.learning.models",
    "build_model": "wirelora.learning.models",
    "run": "wirelora.learning.loop",
    "RunConfig": "wirelora.learning.config",
    "TrainerState": "wirelora.learning.state",
    "Schedule": "wirelora.correction.schedule",
    "GroupSchedule": "wirelora.correction.schedule",
    "Event": "wirelora.learning.events",
    "History": "wirelora.learning.history",
    "PolicyConfig": "wirelora.correction.config",
    "CorrectionConfig": "wirelora.correction.config",
    "fisher_plan": "wirelora.correction.plan",
    "residual_plan": "wirelora.correction.residual_rule",
    "regime_grid": "wirelora.correction.residual_rule",
    "WirelessConfig": "wirelora.wireless.config",
    "joint_round": "wirelora.correction.joint",
    "sweep": "wirelora.experiments.sweep",
    "metrics": "wirelora.evaluation.metrics",
    "plots": "wirelora.evaluation.plots",
    "reproduce": "wirelora.experiments.reproduce.framework",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wirelora' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if module.endswith("." + name) else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
