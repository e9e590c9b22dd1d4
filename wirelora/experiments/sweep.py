"""Every correction method and ablation arm run on one scenario.

:func:`sweep` runs each through the one loop, :func:`wirelora.learning.loop.run`, which builds the method from
its config and summarises its History (:mod:`wirelora.evaluation.summary`;
:func:`wirelora.evaluation.summary.table` gives Table III's rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from wirelora.config import from_dict, to_jsonable
from wirelora.correction.config import METHODS
from wirelora.evaluation.names import PAPER_ARMS
from wirelora.learning.loop import run

__all__ = ["sweep", "SWEEP_ARMS"]

# The paper's ablation arms, each under the paper's Fisher priority (proposed runs the config's rule).
SWEEP_ARMS = PAPER_ARMS


def sweep(
    config,
    *,
    out_dir: str | Path,
    methods: Sequence[str] = METHODS,
    arms: Sequence[str] = SWEEP_ARMS,
    progress: bool = False,
):
    """Every method (``proposed`` = the full arm) and every other ablation arm on one scenario.

    Each run has its own directory under ``out_dir`` (a finished one is reloaded and summarised again, an
    interrupted one resumed); the oracle is cached once (``out_dir/oracle``). Returns {name: History}: the
    method names, and ``arm:<arm>`` for the arms.
    """
    out = Path(out_dir)
    raw = to_jsonable(config)
    raw["oracle"]["cache_dir"] = str(out / "oracle")
    runs = [(m, {"method": m}, {}) for m in methods]
    runs += [(f"arm:{a}", {"method": "proposed"}, {"arm": a, "rule": "fisher"}) for a in arms]
    results = {}
    for name, corr, pol in runs:
        r = dict(raw)
        r["correction"] = {**(raw.get("correction") or {}), **corr}
        r["policy"] = {**(raw.get("policy") or {}), **pol}
        cfg = from_dict(type(config), r)
        results[name] = run(cfg, out_dir=out / name.replace(":", "-"), resume=True, progress=progress)
    return results
