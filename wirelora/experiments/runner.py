"""``wirelora run CONFIG`` and ``wirelora resume DIR``: a run config in, a run directory out.

A run directory holds ``config.json`` (the resolved config, after ``--set`` overrides and ``--seed``),
``history.json`` (:class:`wirelora.learning.history.History`), ``checkpoint.safetensors`` (written
atomically every ``trainer.checkpoint_every`` rounds), ``summary.png`` (losses and consensus distance per
round, events marked) and, when the oracle is on, ``oracle/`` (the retrained models, cached per event).

CONFIG is a YAML/JSON path or the name of a config shipped in ``wirelora/experiments/configs/`` (e.g.
``leave-only``). The sections are those of :class:`wirelora.learning.config.RunConfig`: ``model``,
``task``, ``trainer``, ``events``, ``churn``, ``oracle``, and ``correction`` / ``policy`` (the correction
method the run loop builds and summarises; empty = plain DGD with the leave projection), ``distributed``
(``timeout_s`` of a ``--backend dist`` run, :mod:`wirelora.experiments.distributed_run`).

Progress is logged (``wirelora.*`` loggers; ``--quiet`` / ``--verbose``) on stderr; the run's result, one
line, goes to stdout. ``--tensorboard DIR`` also writes each round as TensorBoard scalars.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from wirelora.config import ConfigError, apply_overrides, from_dict, load_mapping, to_jsonable
from wirelora.experiments.rundir import claim

__all__ = [
    "CONFIG_DIR",
    "available_configs",
    "load_run_config",
    "load_raw_config",
    "start_run",
    "resume_run",
    "cli_run",
    "cli_resume",
]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

_log = logging.getLogger(__name__)


def available_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_run_config(name_or_path: str | Path, overrides: list[str] = (), seed: int | None = None):
    """A :class:`RunConfig` from a file or a shipped config name, with dotted overrides and a seed."""
    from wirelora.learning.config import RunConfig

    return from_dict(RunConfig, load_raw_config(name_or_path, overrides, seed))


def load_raw_config(name_or_path: str | Path, overrides: list[str] = (), seed: int | None = None) -> dict:
    """The mapping :func:`load_run_config` builds its config from (read and overridden, not yet checked)."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if not path.is_file():
        shipped = CONFIG_DIR / f"{text}.yaml"
        if not shipped.is_file():
            raise ConfigError(
                f"config {text!r}: no such file or shipped config; shipped: {', '.join(available_configs())}"
            )
        path = shipped
    raw = apply_overrides(load_mapping(path), list(overrides))
    if seed is not None:
        raw["seed"] = seed
    raw.setdefault("name", path.stem)
    return raw


def start_run(
    config,
    out_dir: str | Path,
    *,
    correction: Any = None,
    progress: bool = False,
    force: bool = False,
    tensorboard: str | Path | None = None,
):
    """Run ``config`` in ``out_dir`` with its correction (or ``correction``, hooks in its place) and
    checkpoints; returns the History. A directory holding this same run continues it; one holding another run
    is refused unless ``force`` (see :func:`wirelora.experiments.rundir.claim`). tensorboard: a directory for
    TensorBoard event files (not part of the run's identity: a resume may name another or none)."""

    out = Path(out_dir)
    _preflight(config, tensorboard)
    resolved = json.loads(json.dumps(to_jsonable(config)))
    with claim(out, resolved, force=force):
        return run_and_summarise(
            config, out, correction=correction, progress=progress, tensorboard=tensorboard
        )


def run_and_summarise(config, out: Path, **run_kwargs):
    """The round loop on ``out`` (resuming from its checkpoint, if any), then its ``summary.png``."""
    from wirelora.learning.loop import run

    history = run(config, out_dir=out, resume=True, **run_kwargs)
    _save_summary(history, out / "summary.png")
    return history


def _preflight(config, tensorboard: str | Path | None = None) -> None:
    """What can be checked before anything is written: the model card exists, the oracle cache is a folder,
    TensorBoard (when asked for) is installed and its directory is not a file."""
    from wirelora.learning.models import card_ranks, resolve_card

    if tensorboard is not None:
        from wirelora.learning.tracking import require_tensorboard

        require_tensorboard(tensorboard)

    card_ranks(resolve_card(config.model.name), config.model.ranks)
    cache = config.oracle.cache_dir
    if config.oracle.enabled and cache and Path(cache).exists() and not Path(cache).is_dir():
        raise ConfigError(f"oracle.cache_dir={cache!r}: is a file, not a directory")


def resume_run(
    out_dir: str | Path,
    *,
    correction: Any = None,
    progress: bool = False,
    tensorboard: str | Path | None = None,
):
    """Continue the run in ``out_dir`` from its last checkpoint (or from the start if there is none)."""
    from wirelora.learning.checkpoint import CHECKPOINT_FILE
    from wirelora.learning.config import RunConfig

    out = Path(out_dir)
    if not out.is_dir():
        raise ConfigError(f"run directory {str(out)!r}: no such directory (not a wirelora run directory)")
    with claim(out, None) as stored:
        config = from_dict(RunConfig, stored, prefix="")
        _preflight(config, tensorboard)
        if not (out / CHECKPOINT_FILE).exists():
            _log.warning("no checkpoint in %s, starting from round 0", out)
        return run_and_summarise(
            config, out, correction=correction, progress=progress, tensorboard=tensorboard
        )


def _save_summary(history, path: Path) -> None:
    from wirelora.evaluation import plots

    plots.summary(history).savefig(path, dpi=110)


def _summary_line(history, out: Path) -> str:
    last = history.rounds[-1]
    parts = [f"{len(history.rounds)} rounds"]
    for key in ("retain_loss", "join_loss", "forget_loss", "retain_acc", "forget_acc"):
        if last.get(key) is not None:
            parts.append(f"{key} {last[key]:.4f}")
    summary = history.meta.get("correction") or {}
    if summary.get("final_event_gap") is not None:
        parts.append(f"{summary.get('method')}: final event gap {summary['final_event_gap']:.4f}")
    if summary.get("forget_acc") is not None and summary.get("oracle_forget_acc") is not None:
        parts.append(f"forget acc {summary['forget_acc']:.3f} (oracle {summary['oracle_forget_acc']:.3f})")
    return f"{', '.join(parts)} -> {out}"


def cli_run(args) -> int:
    config = load_run_config(args.config, list(args.overrides), args.seed)
    if getattr(
        args, "print_config", False
    ):  # the resolved config, as config.json would hold it; nothing runs
        _preflight(config)
        print(json.dumps(to_jsonable(config), indent=1))
        return 0
    out = Path(args.out) if args.out else Path("runs") / config.name
    history = start_run(
        config, out, progress=not args.no_progress, force=args.force, tensorboard=args.tensorboard
    )
    print(f"wirelora run: {_summary_line(history, out)}")
    return 0


def cli_resume(args) -> int:
    out = Path(args.dir)
    history = resume_run(out, progress=not args.no_progress, tensorboard=args.tensorboard)
    print(f"wirelora resume: {_summary_line(history, out)}")
    return 0
