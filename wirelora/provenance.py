"""Where a result came from: the library versions, the git commit of a source checkout, the command line.

Written into every History (``meta.provenance``) and every reproduce data file, so that a number can be
traced to the code that made it. It differs between two otherwise identical runs (another machine, another
command line), so :meth:`wirelora.learning.history.History.without_timing` leaves it out.
"""

from __future__ import annotations

import subprocess
import sys
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["provenance"]

PACKAGES = ("wirelora", "torch", "peft", "transformers", "cvxpy", "numpy", "scipy")


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def _git_commit() -> str | None:
    """The commit of the checkout wirelora runs from (with ``+dirty`` for local changes); None if none."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def provenance() -> dict:
    """{"versions": {package: version}, "git_commit": str | None, "command": str, "python": str}."""
    return {
        "versions": {p: v for p in PACKAGES if (v := _version(p)) is not None},
        "git_commit": _git_commit(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "",
        "python": sys.version.split()[0],
    }
