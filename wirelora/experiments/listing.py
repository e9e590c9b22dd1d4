"""``wirelora list configs|models|targets|examples``: what ships with wirelora, one line each, read from the
files themselves (the first sentence of each file's leading comment)."""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path

PACKAGE = Path(str(importlib.resources.files("wirelora")))
KINDS = ("configs", "models", "targets", "examples")


def _leading_comment(path: Path) -> str:
    """The first sentence of the ``#`` comment block a YAML file starts with ('' when it has none)."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    text = " ".join(lines)
    match = re.match(r"(.+?[.:;])(\s+[A-Z(]|$)", text)  # "Fig. 3" or "eq. 5" do not end a sentence
    first = (match.group(1) if match else text).rstrip(":.;")
    return first if len(first) <= 100 else first[:99].rstrip() + "…"


def _files(folder: Path) -> list[tuple[str, str]]:
    return sorted((p.stem, _leading_comment(p)) for p in folder.glob("*.yaml"))


def entries(kind: str) -> list[tuple[str, str]]:
    """(name, one-line description) of each shipped item of ``kind``."""
    from wirelora.config import check_choice

    check_choice("list", kind, KINDS)
    if kind == "configs":
        return _files(PACKAGE / "experiments" / "configs")
    if kind == "models":
        return _files(PACKAGE / "models")
    if kind == "examples":
        return _files(PACKAGE / "allocation" / "examples")
    from wirelora.cli import REPRODUCE_TARGETS

    return [(t, "") for t in REPRODUCE_TARGETS]


def cli_list(args) -> int:
    rows = entries(args.kind)
    width = max(len(name) for name, _ in rows)
    for name, text in rows:
        print(f"{name:<{width}}  {text}".rstrip())
    return 0
