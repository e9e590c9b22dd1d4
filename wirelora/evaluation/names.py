"""The names wirelora gives correction methods, policy arms and rules, with their display labels and colours.

The valid names are defined where they are validated (:mod:`wirelora.correction.config`: ``METHODS``,
``ARMS``, ``RULES``); this module re-exports them, fixes which of them the paper's figures show and in
what order, and gives every name a label and a colour, so that a method looks the same in every figure,
table and command. Plots, the reproduce targets and the CLI read it; nothing else holds a label or colour.
"""

from __future__ import annotations

from wirelora.correction.config import ARMS, METHODS, RULES

__all__ = [
    "METHODS",
    "ARMS",
    "RULES",
    "PAPER_METHODS",
    "PAPER_ARMS",
    "LABELS",
    "COLORS",
    "ACTION_COLORS",
    "label",
    "color",
]

# The methods and ablation arms of the paper's figures, in legend order (the oracle and no-correction are
# added by the figures that show them).
PAPER_METHODS = ("proposed", "federaser_d2d", "ewc", "influence_d2d", "kd_unlearn", "naive")
PAPER_ARMS = ("full", "ls_prox", "local_steps", "retain_prox", "uniform", "topology")

# The paper's names for wirelora's keys: correction methods (correction.method), policy arms (policy.arm) and
# rules (policy.rule), and the other series the figures draw (allocations, bases, ownership).
LABELS = {
    # correction methods
    "proposed": "Proposed",
    "retrain": "Full Retrain (oracle)",
    "no_correction": "No-correction",
    "naive": "Naive Remove",
    "federaser_d2d": "FedEraser-D2D",
    "ewc": "EWC-leave/join",
    "influence_d2d": "Influence-Fn-D2D",
    "kd_unlearn": "KD-Unlearn",
    # policy arms
    "uniform": "Uniform",
    "full": "full",
    "ls_prox": "ls+prox",
    "local_steps": "local-steps",
    "retain_prox": "retain-prox",
    "topology": "topology",
    # policy rules
    "fisher": "Fisher priority (Algorithm 1)",
    "residual": "dominant residual",
    # the residuals of Theorem 2 (the dominant one names a regime)
    "loc": "R_loc",
    "con": "R_con",
    "het": "R_het",
    # allocations
    "convex": "convex allocator",
    "equal": "equal split",
    "proportional": "payload-proportional split",
    "optimum": "closed-form optimum",
    "minmax": "min-max latency allocation",
    # bases and block ownership
    "slotted": "slotted bases",
    "independent": "independent bases",
    "orthogonal": "orthogonal extension (own block)",
    "shared": "shared ownership (all train every block)",
}

# Fixed colours (tab10 order, the oracle in black); the proposed method and the full arm share red.
COLORS = {
    "proposed": "tab:red",
    "full": "tab:red",
    "retrain": "black",
    "no_correction": "tab:gray",
    "naive": "tab:blue",
    "federaser_d2d": "tab:green",
    "ewc": "tab:purple",
    "influence_d2d": "tab:brown",
    "kd_unlearn": "tab:orange",
    "uniform": "tab:olive",
    "ls_prox": "tab:blue",
    "local_steps": "tab:green",
    "retain_prox": "tab:purple",
    "topology": "tab:cyan",
    "fisher": "tab:red",
    "residual": "tab:blue",
    "convex": "tab:red",
    "equal": "tab:blue",
    "proportional": "tab:green",
    "optimum": "black",
    "minmax": "tab:purple",
    "slotted": "tab:red",
    "independent": "tab:blue",
    "orthogonal": "tab:red",
    "shared": "tab:blue",
}

# The correction actions of the policy (policy.ACTIONS) and "none", as cells of the regimes map.
ACTION_COLORS = {"local": "tab:green", "prox": "tab:purple", "topology": "tab:cyan", "sync": "tab:orange",
                 "none": "0.85"}  # fmt: skip


def label(name: str) -> str:
    """The display label of a method, arm, rule, residual or series key (the key itself when unknown)."""
    return LABELS.get(name, name)


def color(name: str) -> str | None:
    """The fixed colour of a method, arm, rule or series key (None when it has none: matplotlib picks)."""
    return COLORS.get(name)
