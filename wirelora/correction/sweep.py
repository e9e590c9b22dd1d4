"""The correction sections of a run config, and every method and ablation arm run on one scenario.

:func:`parse_sections` is the one place the ``correction`` (with its ``wireless`` part) and ``policy``
sections are read; :func:`sweep` runs every method and arm through the one loop,
:func:`wirelora.learning.loop.run`, which builds each method from its config and summarises its History
(:mod:`wirelora.evaluation.summary`; :func:`wirelora.evaluation.summary.table` gives Table III's rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from wirelora.config import from_dict, to_jsonable
from wirelora.correction import joint as _joint
from wirelora.correction import policy as _policy

__all__ = ["parse_sections", "has_correction", "sweep", "SWEEP_ARMS"]

# The paper's ablation arms, each under the paper's Fisher priority (proposed runs the config's rule).
SWEEP_ARMS = ("full", "ls_prox", "local_steps", "retain_prox", "uniform", "topology")


def parse_sections(config) -> tuple[_policy.CorrectionConfig, _policy.PolicyConfig, _joint.JointConfig]:
    """The ``correction`` (with its ``wireless`` part) and ``policy`` sections of a RunConfig, validated."""
    cc = from_dict(_policy.CorrectionConfig, dict(config.correction), prefix="correction")
    pc = from_dict(_policy.PolicyConfig, dict(config.policy), prefix="policy")
    return cc, pc, cc.joint


def has_correction(config) -> bool:
    """Whether the config asks for a correction method (a non-empty ``correction`` or ``policy`` section)."""
    return bool(config.correction or config.policy)


def sweep(
    config,
    *,
    out_dir: str | Path,
    methods: Sequence[str] = _policy.METHODS,
    arms: Sequence[str] = SWEEP_ARMS,
    progress: bool = False,
):
    """Every method (``proposed`` = the full arm) and every other ablation arm on one scenario.

    Each run has its own directory under ``out_dir`` (a finished one is reloaded and summarised again, an
    interrupted one resumed); the oracle is cached once (``out_dir/oracle``). Returns {name: History}: the
    method names, and ``arm:<arm>`` for the arms.
    """
    from wirelora.learning.loop import run  # deferred: the loop comes after correction

    out = Path(out_dir)
    raw = to_jsonable(config)
    raw["oracle"]["cache_dir"] = str(out / "oracle")
    runs = [(m, {"method": m}, {}) for m in methods]
    runs += [(f"arm:{a}", {"method": "proposed"}, {"arm": a, "rule": "fisher"}) for a in arms]
    results = {}
    for name, corr, pol in runs:
        r = dict(raw)
        r["correction"] = {**raw.get("correction", {}), **corr}
        r["policy"] = {**raw.get("policy", {}), **pol}
        cfg = from_dict(type(config), r)
        results[name] = run(cfg, out_dir=out / name.replace(":", "-"), resume=True, progress=progress)
    return results
