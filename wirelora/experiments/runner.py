"""``wirelora run CONFIG`` and ``wirelora resume DIR``: a run config in, a run directory out.

A run directory holds ``config.json`` (the resolved config, after ``--set`` overrides and ``--seed``),
``history.json`` (:class:`wirelora.evaluation.history.History`), ``checkpoint.pt`` (written atomically every
``trainer.checkpoint_every`` rounds), ``summary.png`` (losses and consensus distance per round, events
marked) and, when the oracle is on, ``oracle/`` (the retrained models, cached per event).

CONFIG is a YAML/JSON path or the name of a config shipped in ``wirelora/experiments/configs/`` (e.g.
``leave-only``). The sections are those of :class:`wirelora.learning.config.RunConfig`: ``model``,
``task``, ``trainer``, ``events``, ``churn``, ``oracle``, and ``correction`` / ``policy`` (read by
:func:`make_correction`; empty = plain DGD with the leave projection).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wirelora.config import ConfigError, apply_overrides, from_dict, load_mapping, to_dict

__all__ = [
    "CONFIG_DIR",
    "available_configs",
    "load_run_config",
    "make_correction",
    "start_run",
    "resume_run",
    "plot_summary",
    "cli_run",
    "cli_resume",
]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
RESOLVED_FILE = "config.json"


def available_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_run_config(name_or_path: str | Path, overrides: list[str] = (), seed: int | None = None):
    """A :class:`RunConfig` from a file or a shipped config name, with dotted overrides and a seed."""
    from wirelora.learning.config import RunConfig

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
    return from_dict(RunConfig, raw)


def make_correction(config) -> Any:
    """The correction object named by the config's ``correction`` / ``policy`` sections (None: plain DGD).

    For ``trainer.run(config, correction=...)``; EWC and FedEraser-D2D also need the pre-event checkpoint,
    which :func:`wirelora.correction.sweep.run_method` (used by ``wirelora run``) provides.
    """
    if config.correction is None:
        return None
    from wirelora.correction.sweep import make_method

    return make_method(config)


def start_run(config, out_dir: str | Path, *, correction: Any = None, progress: bool = False):
    """Write the resolved config into ``out_dir`` and run it there (with checkpoints); returns the History."""
    from wirelora.evaluation.history import atomic_write_text
    from wirelora.learning.loop import run

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / RESOLVED_FILE, json.dumps(to_dict(config), indent=1) + "\n")
    if correction is None and config.correction is not None:
        from wirelora.correction.sweep import run_method  # event by event, with the method's own metrics

        history = run_method(config, out_dir=out, progress=progress)
    else:
        history = run(config, correction=correction, out_dir=out, progress=progress)
    plot_summary(history, out / "summary.png")
    return history


def resume_run(out_dir: str | Path, *, correction: Any = None, progress: bool = False):
    """Continue the run in ``out_dir`` from its last checkpoint (or from the start if there is none)."""
    from wirelora.learning.checkpoint import CHECKPOINT_FILE
    from wirelora.learning.config import RunConfig
    from wirelora.learning.loop import run

    out = Path(out_dir)
    resolved = out / RESOLVED_FILE
    if not resolved.is_file():
        raise FileNotFoundError(
            f"run directory {str(out)!r}: no {RESOLVED_FILE} (not a wirelora run directory)"
        )
    config = from_dict(RunConfig, load_mapping(resolved))
    if not (out / CHECKPOINT_FILE).is_file():
        print(f"wirelora resume: no checkpoint in {out}, starting from round 0")
    if correction is None and config.correction is not None:
        from wirelora.correction.sweep import run_method  # resumes the segment it stopped in

        history = run_method(config, out_dir=out, progress=progress)
    else:
        history = run(config, correction=correction, out_dir=out, resume=True, progress=progress)
    plot_summary(history, out / "summary.png")
    return history


def plot_summary(history, path: str | Path) -> Path:
    """Consensus retain/join/forget loss (and the oracle's, dashed) and consensus distance per round."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rounds = history.series("round")
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    evaluated = np.isfinite(history.series("retain_loss"))  # eval_every > 1 leaves rounds without losses
    for key, colour in (("retain", "C0"), ("join", "C1"), ("forget", "C3")):
        y = history.series(f"{key}_loss")[evaluated]  # NaN (a break in the line) where the set does not exist
        if np.isfinite(y).any():
            ax.plot(rounds[evaluated], y, color=colour, label=f"{key} (consensus)")
        yo = history.series(f"oracle_{key}_loss")
        if np.isfinite(yo).any():
            ax.plot(rounds, yo, color=colour, ls="--", lw=1, label=f"{key} (oracle)")
    bx.semilogy(rounds, history.series("consensus_distance") + 1e-12, color="C2")
    for r in history.rounds:
        if r.get("event"):
            for a in (ax, bx):
                a.axvline(r["round"], color="0.6", ls=":", lw=1)
    ax.set(xlabel="round", ylabel="loss", title=history.config.get("name", "run"))
    ax.legend(fontsize=8)
    bx.set(xlabel="round", ylabel="mean ‖B_i − B̄‖²", title="consensus distance")
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _summary_line(history, out: Path) -> str:
    last = history.rounds[-1]
    parts = [f"{len(history.rounds)} rounds"]
    for key in ("retain_loss", "join_loss", "forget_loss", "retain_acc", "forget_acc"):
        if last.get(key) is not None:
            parts.append(f"{key} {last[key]:.4f}")
    return f"wirelora run: {', '.join(parts)} -> {out}"


def cli_run(args) -> int:
    config = load_run_config(args.config, list(args.overrides), args.seed)
    out = Path(args.out) if args.out else Path("runs") / config.name
    history = start_run(config, out, progress=not args.no_progress)
    print(_summary_line(history, out))
    return 0


def cli_resume(args) -> int:
    out = Path(args.dir)
    history = resume_run(out, progress=not args.no_progress)
    print(_summary_line(history, out))
    return 0
