"""The correction methods, one file each, on the :class:`~wirelora.correction.methods.base.Correction` base
class (docs/method.md §8), and the one registry :data:`METHODS` (``correction.method`` → class).

- ``proposed``: the projection, then the policy's per-group schedule through the joint round.
- ``retrain``: every copy replaced by the oracle (its training charged as cost).
- ``no_correction``: the projection and nothing else: the post-event floor.
- ``naive``: no projection, plain DGD.
- ``federaser_d2d``: stored own-block updates, replayed with calibration from a model rebuilt from zero.
- ``ewc``: prox anchor at the pre-event consensus (leaver zeroed), weighted by the diagonal Fisher.
- ``influence_d2d``: one Gauss-Newton step on the remaining devices' objective, then DGD.
- ``kd_unlearn``: DGD with a KL term toward the frozen base model.

Every method except ``proposed`` runs the uniform arm's schedule (the same n, λ, γ, H for every group) through
the same joint round, so latency, energy and edge cost are comparable. To add a method: one file with a
``Correction`` subclass, one line in :data:`METHODS` (and its name in ``policy.METHODS``, which the config
validates against).
"""

from __future__ import annotations

from wirelora.config import ConfigError
from wirelora.correction.methods.base import Correction, MethodContext
from wirelora.correction.methods.ewc import EWC
from wirelora.correction.methods.federaser_d2d import FedEraserD2D
from wirelora.correction.methods.influence_d2d import InfluenceD2D
from wirelora.correction.methods.kd_unlearn import KDUnlearn
from wirelora.correction.methods.naive import Naive
from wirelora.correction.methods.no_correction import NoCorrection
from wirelora.correction.methods.proposed import Proposed
from wirelora.correction.methods.retrain import Retrain

__all__ = ["METHODS", "Correction", "MethodContext", "build"]

METHODS: dict[str, type[Correction]] = {
    "proposed": Proposed,
    "retrain": Retrain,
    "no_correction": NoCorrection,
    "naive": Naive,
    "federaser_d2d": FedEraserD2D,
    "ewc": EWC,
    "influence_d2d": InfluenceD2D,
    "kd_unlearn": KDUnlearn,
}


def build(name: str, ctx: MethodContext) -> Correction:
    """The correction method ``name`` (a key of :data:`METHODS`) for the round loop."""
    cls = METHODS.get(name)
    if cls is None:
        raise ConfigError(f"correction.method={name!r}: must be one of {', '.join(METHODS)}")
    return cls(ctx)
