"""The policy's target: ``regimes``, the action the dominant-residual rule picks over a grid of spectral gap
x heterogeneity on the synthetic quadratic. Settings: ``configs/reproduce/policy.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from wirelora.experiments.reproduce.recipe import Context

__all__ = ["compute_regimes", "draw_regimes"]


def compute_regimes(cfg: Mapping[str, Any], ctx: Context) -> dict:
    """The dominant-residual rule's first action on the synthetic quadratic (μ, ζ, ρ set by hand) over a grid
    of spectral gap 1 − ρ × heterogeneity ζ²."""
    from wirelora.correction.residual_rule import regime_grid

    gaps = np.asarray(cfg["spectral_gaps"], dtype=float)
    zeta2 = np.asarray(cfg["heterogeneity"], dtype=float)
    ctx.say(f"  regimes: {len(zeta2)} x {len(gaps)} grid")
    out = regime_grid(
        mu=cfg["mu"],
        zeta=np.sqrt(zeta2),
        rho=1.0 - gaps,
        init_gap=cfg["init_gap"],
        disagreement=cfg["disagreement"],
        rounds=cfg["rounds"],
        step_size=cfg["step_size"],
        num_devices=cfg["num_devices"],
        seed=cfg["seed"],
    )
    return {
        "spectral_gap": gaps,
        "heterogeneity": zeta2,
        "action": np.asarray(out["action"]).tolist(),  # [heterogeneity, spectral_gap]
        "dominant": np.asarray(out["dominant"]).tolist(),
        "residuals": np.asarray(out["residuals"]),  # [heterogeneity, spectral_gap, (loc, con, het)]
    }


def draw_regimes(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.regimes(
        data["spectral_gap"], data["heterogeneity"], data["action"], dominant=data["dominant"]
    )
