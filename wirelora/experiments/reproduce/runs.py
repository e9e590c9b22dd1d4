"""The runs behind the training targets: a shipped run config with a target's overrides, and the sweep
cache that lets several targets share one set of runs.

Runs are kept under ``<out>/runs/<config name>-<hash>/`` (git-ignored), keyed by the target's settings,
the resolved run config and the run names, so that ``reproduce fig3`` and a later ``reproduce fig6`` share a
sweep and a shipped config that changes does not reuse old runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from wirelora.config import to_jsonable

if TYPE_CHECKING:
    from wirelora.experiments.reproduce.recipe import Context

__all__ = ["scenario_config", "sweep_runs", "event_marks"]


def scenario_config(cfg: Mapping[str, Any]):
    """A shipped run config (the files ``wirelora run`` reads) with the recipe's overrides."""
    from wirelora.experiments.runner import load_run_config

    return load_run_config(cfg["config"], list(cfg["overrides"]))


def sweep_runs(config, names: Sequence[str], cfg: Mapping[str, Any], ctx: Context) -> tuple[dict, dict]:
    """({name: History}, {name: error}) for method names and ``arm:<arm>`` names, run once per settings
    (cached in memory and on disk). A method that fails is reported, not hidden: it is left out of the runs
    and its one-line error is returned (and saved with the figure's data)."""
    from wirelora.experiments.sweep import sweep
    from wirelora.learning.history import History

    key = {"settings": cfg, "config": to_jsonable(config), "names": list(names)}
    key = json.dumps(to_jsonable(key), sort_keys=True)
    if key in ctx.cache:
        return ctx.cache[key]
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    work = ctx.work_dir / f"{config.name}-{digest}"
    done = work / "done.json"
    if done.is_file():
        ctx.say(f"  reusing the runs in {work}")
        record = json.loads(done.read_text())
        runs = {n: History.load(work / n.replace(":", "-")) for n in record["ok"]}
        failed = record["failed"]
    else:
        work.mkdir(parents=True, exist_ok=True)
        (work / "settings.json").write_text(key + "\n")
        runs, failed = {}, {}
        for name in ctx.bar(names, desc=f"{config.name}: runs"):
            methods, arms = ([], [name.split(":", 1)[1]]) if name.startswith("arm:") else ([name], [])
            try:
                runs.update(sweep(config, out_dir=work, methods=methods, arms=arms, progress=False))
            except (ValueError, RuntimeError) as exc:  # DivergenceError is a RuntimeError
                failed[name] = " ".join(f"{type(exc).__name__}: {exc}".split())
                ctx.say(f"  {name} failed: {failed[name]}")
        done.write_text(json.dumps({"ok": list(runs), "failed": failed}) + "\n")
    ctx.cache[key] = (runs, failed)
    return runs, failed


def event_marks(config) -> list[list]:
    """[(round, "leave d0; join d6")] of a run config's events, for the figures' event lines."""
    marks = []
    for e in config.events:
        what = [f"leave {', '.join(e.leave)}"] if e.leave else []
        what += [f"join {', '.join(e.join)}"] if e.join else []
        marks.append([int(e.round), "; ".join(what)])
    return marks
