"""The orthogonal adapter's targets: ``leakage`` (what a leave leaves behind, independent vs slotted bases)
and ``join`` (learning a joiner with its own orthogonal block vs shared blocks).

Settings: ``configs/reproduce/adapter.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from wirelora.experiments.reproduce.runs import event_marks, scenario_config

if TYPE_CHECKING:
    from wirelora.experiments.reproduce.recipe import Context

__all__ = ["compute_leakage", "draw_leakage", "compute_join", "draw_join"]


def compute_leakage(cfg: Mapping[str, Any], ctx: Context) -> dict:
    """On one d×d linear layer with M devices whose blocks hold random values: the mean pairwise basis
    overlap ‖A_iᵀA_j‖_F² and, after device 0 leaves, the contribution residual ‖ΔW'A_u‖_F / ‖ΔW'‖_F,
    averaged over trials."""
    import torch
    from torch import nn

    from wirelora.lora import OrthogonalLoRA, contribution_residual, overlap

    d, m = cfg["width"], cfg["num_devices"]
    ranks = [r for r in cfg["ranks"] if r * m <= d]  # slotted bases need M·r <= d columns
    devices = [f"d{i}" for i in range(m)]
    overlap_by: dict[str, list[float]] = {"independent": [], "slotted": []}
    residual_by: dict[str, list[float]] = {"independent": [], "slotted": []}
    jobs = [(r, basis) for r in ranks for basis in ("independent", "slotted")]
    for r, basis in ctx.bar(jobs, desc="leakage: rank x basis"):
        overlaps, residuals = [], []
        for trial in range(cfg["trials"]):
            model = nn.Sequential()
            model.add_module("proj", nn.Linear(d, d, bias=False))
            ol = OrthogonalLoRA(model, ["proj"], rank=r, max_devices=m, basis=basis, seed=trial)
            gen = torch.Generator().manual_seed(trial)
            for dev in devices:
                ol.add_device(dev)
                ol.block(dev, "proj").copy_(torch.randn(d, r, generator=gen))
            bases = [ol.basis(dev, "proj").double().numpy() for dev in devices]
            overlaps += [overlap(bases[i], bases[j]) for i in range(m) for j in range(i + 1, m)]
            cols = ol.slot_columns(devices[0], "proj")
            ol.remove_device(devices[0])
            b_w = ol.parameters()[0].detach()
            residuals.append(float(contribution_residual(b_w, ol.basis_matrix("proj"), cols)))
        overlap_by[basis].append(float(np.mean(overlaps)))
        residual_by[basis].append(float(np.mean(residuals)))
    r_arr = np.asarray(ranks, dtype=float)
    return {
        "width": d,
        "rank": ranks,
        "rank_over_dim": r_arr / d,
        "theory_overlap": r_arr**2 / d,
        "overlap": overlap_by,
        "residual": residual_by,
    }


def draw_leakage(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.leakage(
        data["rank_over_dim"],
        data["overlap"],
        data["residual"],
        theory=data["theory_overlap"],
        width=data["width"],
    )


def _evaluated(history, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(rounds, values) of a per-round number at the rounds where it was evaluated (not null)."""
    rounds = history.series("round")
    values = history.series(key)
    keep = ~np.isnan(history.series("retain_loss"))  # evaluated rounds; join_loss is NaN before a join
    return rounds[keep], values[keep]


def compute_join(cfg: Mapping[str, Any], ctx: Context) -> dict:
    """The same joins run twice: the joiner trains its own new block (the orthogonal extension, block
    ownership) vs every device trains every block (shared: the joiner's updates land on every block)."""
    from wirelora.learning.loop import run

    out: dict[str, Any] = {"join_loss": {}, "retain_loss": {}}
    for arm, extra in ctx.bar(list(cfg["arms"].items()), desc="join: arms"):
        config = scenario_config({"config": cfg["config"], "overrides": [*cfg["overrides"], *extra]})
        history = run(config, progress=False)
        rounds, join_loss = _evaluated(history, "join_loss")
        _, retain_loss = _evaluated(history, "retain_loss")
        out["rounds"] = rounds
        out["join_loss"][arm] = join_loss
        out["retain_loss"][arm] = retain_loss
    out["events"] = event_marks(config)
    return out


def draw_join(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.join(data["rounds"], data["join_loss"], data["retain_loss"], events=data["events"])
