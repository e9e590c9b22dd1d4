"""Every correction method and ablation arm run on one scenario.

:func:`sweep` runs each through the one loop, :func:`wirelora.learning.loop.run`, which builds the method from
its config and summarises its History (:mod:`wirelora.evaluation.summary`;
:func:`wirelora.evaluation.summary.table` gives Table III's rows).

Before the first event every method is the same plain DGD, so the sweep runs that pre-event phase once
(``out_dir/pre-event``) and every method and arm continues from its checkpoint
(:func:`wirelora.learning.checkpoint.fork_checkpoint`): each History is bit for bit the one a run from
round 0 gives, and a sweep of 12 runs trains rounds 0 .. event − 1 once instead of 12 times.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from wirelora.config import from_dict, to_jsonable
from wirelora.correction.config import METHODS
from wirelora.evaluation.names import PAPER_ARMS
from wirelora.learning.checkpoint import CHECKPOINT_FILE, fork_checkpoint
from wirelora.learning.loop import run

__all__ = ["sweep", "SWEEP_ARMS", "PRE_EVENT_DIR", "PRE_EVENT_METHOD"]

# The paper's ablation arms, each under the paper's Fisher priority (proposed runs the config's rule).
SWEEP_ARMS = PAPER_ARMS
PRE_EVENT_DIR = "pre-event"
# The pre-event phase runs with FedEraser-D2D's hooks: its update recorder is the only state a method gathers
# before an event (the others' hooks do nothing there), and the checkpoint keeps it for FedEraser's own run.
PRE_EVENT_METHOD = "federaser_d2d"


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
    interrupted one resumed; a new one starts from the shared pre-event checkpoint); the oracle is cached once
    (``out_dir/oracle``). Returns {name: History}: the method names, and ``arm:<arm>`` for the arms.
    """
    out = Path(out_dir)
    raw = to_jsonable(config)
    raw["oracle"]["cache_dir"] = str(out / "oracle")
    runs = [(m, {"method": m}, {}) for m in methods]
    runs += [(f"arm:{a}", {"method": "proposed"}, {"arm": a, "rule": "fisher"}) for a in arms]
    first = min((int(e.round) for e in config.events), default=0)  # 0: no fixed event, nothing to share
    results = {}
    for name, corr, pol in runs:
        cfg = _variant(config, raw, corr, pol)
        run_dir = out / name.replace(":", "-")
        if first > 0 and not (run_dir / CHECKPOINT_FILE).exists():
            pre = _pre_event(_variant(config, raw, {"method": PRE_EVENT_METHOD}, {}), out, first)
            run_dir.mkdir(parents=True, exist_ok=True)
            fork_checkpoint(pre, run_dir / CHECKPOINT_FILE, to_jsonable(cfg), first_event=first)
        results[name] = run(cfg, out_dir=run_dir, resume=True, progress=progress)
    return results


def _variant(config, raw: dict, correction: dict, policy: dict):
    """``config`` (as ``raw``) with the given correction and policy keys."""
    r = dict(raw)
    r["correction"] = {**(raw.get("correction") or {}), **correction}
    r["policy"] = {**(raw.get("policy") or {}), **policy}
    return from_dict(type(config), r)


def _pre_event(config, out: Path, first_event: int) -> Path:
    """The checkpoint after round ``first_event`` − 1 of ``config`` (run once, in ``out/pre-event``)."""
    pre = out / PRE_EVENT_DIR
    done = pre / "done"
    if not done.is_file():
        run(config, out_dir=pre, resume=True, stop_after=first_event - 1)
        done.write_text(f"{first_event - 1}\n")
    return pre / CHECKPOINT_FILE
