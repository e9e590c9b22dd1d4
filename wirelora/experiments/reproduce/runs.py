"""The runs behind the training targets: a shipped run config with a target's overrides, and the sweep
cache that lets several targets share one set of runs.

Runs are kept under ``<out>/runs/<config name>-<hash>/seed-<seed>/`` (git-ignored), keyed by the target's
settings, the resolved run config (its base seed included) and the run names, so that ``reproduce fig3`` and a
later ``reproduce fig6`` share a sweep, a shipped config that changes does not reuse old runs, and each seed's
runs stay in their own directory: an interrupted ``reproduce`` resumes seed by seed (a finished seed is
reloaded, a started one continues its runs) and never mixes seeds. Seed s of ``--seeds N`` runs the config
with seed = base seed + s; all methods of one seed share the pre-event model, the oracle and the channel
draws. With ``jobs > 1`` the seeds still to run go to that many worker processes; each seed's runs are the
same whichever process runs them (every shipped config fixes ``trainer.threads``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wirelora.config import to_jsonable

if TYPE_CHECKING:
    from wirelora.experiments.reproduce.recipe import Context

__all__ = ["scenario_config", "seed_sweeps", "event_marks"]

DONE_FILE = "done.json"  # in a seed's directory: {"ok": [names], "failed": {name: error}}


def scenario_config(cfg: Mapping[str, Any]):
    """A shipped run config (the files ``wirelora run`` reads) with the recipe's overrides."""
    from wirelora.experiments.runner import load_run_config

    return load_run_config(cfg["config"], list(cfg["overrides"]))


def seed_sweeps(
    config, names: Sequence[str], cfg: Mapping[str, Any], ctx: Context
) -> list[tuple[dict, dict]]:
    """One ``({name: History}, {name: error})`` per seed (``ctx.seeds`` of them, base seed + 0, 1, ...) for
    method names and ``arm:<arm>`` names, run once per settings (cached in memory and on disk). A method that
    fails is reported, not hidden: it is left out of that seed's runs and its one-line error is returned."""
    key = {"settings": cfg, "config": to_jsonable(config), "names": list(names)}
    key = json.dumps(to_jsonable(key), sort_keys=True)
    work = ctx.work_dir / f"{config.name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    seeds = [int(config.seed) + s for s in range(ctx.seeds)]
    todo = [s for s in seeds if (key, s) not in ctx.cache and not (work / f"seed-{s}" / DONE_FILE).is_file()]
    if todo:
        work.mkdir(parents=True, exist_ok=True)
        (work / "settings.json").write_text(key + "\n")
        raw = to_jsonable(config)
        jobs = min(ctx.jobs, len(todo))
        if jobs > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            ctx.say(f"  {config.name}: seeds {todo} in {jobs} processes")
            # spawn: a fresh interpreter per worker (fork would copy torch's thread pools)
            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
                list(pool.map(_run_seed, [raw] * len(todo), todo, [list(names)] * len(todo),
                              [str(work)] * len(todo)))  # fmt: skip
        else:
            for s in ctx.bar(todo, desc=f"{config.name}: seeds"):
                _run_seed(raw, s, list(names), str(work), say=ctx.say)
    out = []
    for s in seeds:  # read back from disk whichever process ran them: the same data for any ``jobs``
        if (key, s) not in ctx.cache:
            ctx.cache[(key, s)] = _load_seed(work / f"seed-{s}")
        out.append(ctx.cache[(key, s)])
    return out


def _run_seed(raw: dict, seed: int, names: list[str], work: str, say=None) -> None:
    """Seed ``seed``'s runs of every name into ``work/seed-<seed>/``; marks the seed done at the end."""
    from wirelora.config import from_dict
    from wirelora.experiments.sweep import sweep
    from wirelora.learning.config import RunConfig

    config = from_dict(RunConfig, {**raw, "seed": seed})
    d = Path(work) / f"seed-{seed}"
    d.mkdir(parents=True, exist_ok=True)
    runs, failed = {}, {}
    for name in names:
        methods, arms = ([], [name.split(":", 1)[1]]) if name.startswith("arm:") else ([name], [])
        try:
            runs.update(sweep(config, out_dir=d, methods=methods, arms=arms, progress=False))
        except (ValueError, RuntimeError) as exc:  # DivergenceError is a RuntimeError
            failed[name] = " ".join(f"{type(exc).__name__}: {exc}".split())
            if say is not None:
                say(f"  seed {seed}: {name} failed: {failed[name]}")
    (d / DONE_FILE).write_text(json.dumps({"ok": list(runs), "failed": failed}) + "\n")


def _load_seed(d: Path) -> tuple[dict, dict]:
    from wirelora.learning.history import History

    record = json.loads((d / DONE_FILE).read_text())
    return {n: History.load(d / n.replace(":", "-")) for n in record["ok"]}, record["failed"]


def event_marks(config) -> list[list]:
    """[(round, "leave d0; join d6")] of a run config's events, for the figures' event lines."""
    marks = []
    for e in config.events:
        what = [f"leave {', '.join(e.leave)}"] if e.leave else []
        what += [f"join {', '.join(e.join)}"] if e.join else []
        marks.append([int(e.round), "; ".join(what)])
    return marks
