"""The one explicit dict of reproduce targets, in the order ``reproduce all`` runs them.

Adding a target: a ``compute_<name>(settings, ctx) -> data`` and a ``draw_<name>(data)`` (one call into
:mod:`wirelora.evaluation.plots`) in the module of its family, its ``full`` / ``quick`` settings in that
family's ``experiments/configs/reproduce/<family>.yaml``, and one line here (``seeded=True``: ``--seeds``
applies to it).
"""

from __future__ import annotations

from wirelora.experiments.reproduce import adapter as ad
from wirelora.experiments.reproduce import allocation as al
from wirelora.experiments.reproduce import correction as co
from wirelora.experiments.reproduce import policy as po
from wirelora.experiments.reproduce.recipe import Recipe

__all__ = ["TARGETS"]

TARGETS: dict[str, Recipe] = {
    "fig3": Recipe(
        co.compute_fig3,
        co.draw_fig3,
        "correction",
        "Fig. 3: event gap vs correction round after a leave",
        seeded=True,
    ),
    "fig3-minilm": Recipe(
        co.compute_fig3,
        co.draw_fig3_minilm,
        "correction",
        "Fig. 3 on all-MiniLM-L6-v2 and real text (pip install 'wirelora[text]'; use --seeds 3)",
        seeded=True,
    ),
    "fig4": Recipe(
        co.compute_fig4,
        co.draw_fig4,
        "correction",
        "Fig. 4: RI vs uniform over a long run with joins and leaves",
        seeded=True,
    ),
    "fig5": Recipe(
        co.compute_fig5, co.draw_fig5, "correction", "Fig. 5: retain loss vs correction round", seeded=True
    ),
    "fig6": Recipe(
        co.compute_fig6, co.draw_fig6, "correction", "Fig. 6: event gap of the ablation arms", seeded=True
    ),
    "fig7": Recipe(
        co.compute_fig7,
        co.draw_fig7,
        "correction",
        "Fig. 7: final gap vs normalised cost per arm",
        seeded=True,
    ),
    "fig8": Recipe(
        co.compute_fig8, co.draw_fig8, "correction", "Fig. 8: RI of each arm vs the uniform arm", seeded=True
    ),
    "table3": Recipe(
        co.compute_table3,
        co.draw_table3,
        "correction",
        "Table III: gap, RI and costs per arm",
        is_table=True,
        seeded=True,
    ),
    "alloc": Recipe(
        al.compute_alloc,
        al.draw_alloc,
        "allocation",
        "round latency vs total bandwidth; bandwidth per group vs priority",
    ),
    "pareto": Recipe(
        al.compute_pareto, al.draw_pareto, "allocation", "energy-latency front of the energy objective"
    ),
    "leakage": Recipe(
        ad.compute_leakage, ad.draw_leakage, "adapter", "basis overlap and post-leave residual vs r/d"
    ),
    "regimes": Recipe(
        po.compute_regimes,
        po.draw_regimes,
        "policy",
        "dominant residual and chosen action over spectral gap x heterogeneity",
    ),
    "join": Recipe(
        ad.compute_join,
        ad.draw_join,
        "adapter",
        "join-data and retain loss around joins, orthogonal vs shared block",
    ),
}
