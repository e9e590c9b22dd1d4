"""A run directory has one owner and one identity.

:func:`claim` is the only way the CLI and :func:`wirelora.experiments.runner.start_run` enter a run directory:
it checks the path, takes a lock file (a second process is refused, naming the PID that holds it; a lock left
by a dead process is taken over), and compares the directory's ``config.json`` with the config about to run.
The same config continues where it stopped; a different one is refused in one line (``--force`` replaces it,
``wirelora resume`` continues it). ``config.json`` is written once, atomically, after every check passed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from wirelora.config import ConfigError
from wirelora.files import atomic_write_text, remove_stale_temps

__all__ = ["claim", "LOCK_FILE", "RESOLVED_FILE", "RUN_FILES"]

LOCK_FILE = ".lock"
RESOLVED_FILE = "config.json"
# what a run writes (and what --force removes; nothing else in the directory is touched)
RUN_FILES = (
    RESOLVED_FILE,
    "history.json",
    "checkpoint.safetensors",
    "metrics.jsonl",
    "summary.png",
    "oracle",
)


def _check_path(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out={str(out)!r}: is a file, not a directory")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"--out={str(out)!r}: {str(parent)!r} is a file, not a directory")
            break
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out={str(out)!r}: cannot create the directory ({exc.strerror})") from None
    if not os.access(out, os.W_OK):
        raise ConfigError(f"--out={str(out)!r}: not writable")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@contextlib.contextmanager
def _lock(out: Path) -> Iterator[None]:
    path = out / LOCK_FILE
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(path.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and pid != os.getpid() and _alive(pid):
                raise ConfigError(
                    f"run directory {str(out)!r}: in use by process {pid} (its {LOCK_FILE})"
                ) from None
            path.unlink(missing_ok=True)  # left by a process that is gone
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{os.getpid()}\n")
        break
    else:
        raise ConfigError(f"run directory {str(out)!r}: could not take {LOCK_FILE}")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _stored(out: Path) -> dict | None:
    path = out / RESOLVED_FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        raise ConfigError(f"run directory {str(out)!r}: its {RESOLVED_FILE} is unreadable") from None


def _first_difference(a, b, prefix: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{prefix}.{k}" if prefix else k)
    return f"{prefix}={a!r} there, {b!r} here"


@contextlib.contextmanager
def claim(out: str | Path, config_json: dict | None, *, force: bool = False) -> Iterator[dict]:
    """Own ``out`` for one run. ``config_json``: the resolved config of a new run (None: resume whatever the
    directory holds). Yields the config to run (as stored in ``config.json``)."""
    out = Path(out)
    created = not out.exists()
    _check_path(out)
    try:
        with _lock(out):
            yield from _claimed(out, config_json, force)
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # a run that failed before writing anything leaves no directory behind
        raise


def _claimed(out: Path, config_json: dict | None, force: bool) -> Iterator[dict]:
    """The checks and writes of :func:`claim`, under its lock."""
    remove_stale_temps(out)
    stored = _stored(out)
    if config_json is None:
        if stored is None:
            raise ConfigError(
                f"run directory {str(out)!r}: no {RESOLVED_FILE} (not a wirelora run directory)"
            )
        yield stored
        return
    if stored is not None and stored != config_json:
        if not force:
            diff = _first_difference(stored, config_json)
            raise ConfigError(
                f"run directory {str(out)!r} holds another run ({diff}): "
                "use another --out, --force to replace it, or `wirelora resume` to continue it"
            )
    if stored is None or force:
        leftovers = [n for n in RUN_FILES[1:] if (out / n).exists()]
        if leftovers and not force:
            raise ConfigError(
                f"run directory {str(out)!r} holds {leftovers[0]} but no {RESOLVED_FILE}: "
                "use another --out or --force to replace it"
            )
        for name in RUN_FILES:
            p = out / name
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)
        atomic_write_text(out / RESOLVED_FILE, json.dumps(config_json, indent=1) + "\n")
        try:
            yield config_json
        except BaseException:
            if not any((out / n).exists() for n in RUN_FILES[1:]):
                (out / RESOLVED_FILE).unlink(missing_ok=True)  # failed before its first result: no trace
            raise
        return
    yield config_json
