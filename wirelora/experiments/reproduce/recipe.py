"""What a reproduce target is: a :class:`Recipe` (compute, draw, where its settings live) and the
:class:`Context` a recipe runs in."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Context", "Recipe"]

_log = logging.getLogger("wirelora.experiments.reproduce")


@dataclass
class Context:
    """What a recipe may use besides its settings: progress display, a cache shared by the recipes of one
    invocation (fig3 and fig5 draw on the same runs; so do fig6, fig7, fig8 and table3), and for seeded
    recipes how many seeds to run (base seed + 0 .. seeds − 1) in how many processes."""

    progress: bool = True
    quick: bool = False
    cache: dict = field(default_factory=dict)
    work_dir: Path = Path("runs")  # where long recipes keep their runs (<out>/runs)
    seeds: int = 1
    jobs: int = 1

    def bar(self, iterable: Iterable, *, desc: str, total: int | None = None) -> Iterable:
        from wirelora.progress import progress_bar

        return progress_bar(iterable, desc=desc, total=total, disable=not self.progress, leave=False)

    def say(self, text: str) -> None:
        """A progress message (the reproduce logger's INFO), shown only when progress is."""
        if self.progress:
            _log.info(text)


@dataclass(frozen=True)
class Recipe:
    """One target. ``compute(settings, ctx)`` runs the experiment and returns plain data; ``draw(data)`` turns
    the saved data into a figure by one call into :mod:`wirelora.evaluation.plots` (or, for a table, into
    ``(header, rows)``). ``settings`` names the YAML file in ``experiments/configs/reproduce/`` that holds the
    target's ``full`` and ``quick`` settings. A ``seeded`` recipe runs ``Context.seeds`` seeds and stores
    every seed's values beside their mean and interval (:mod:`wirelora.evaluation.stats`)."""

    compute: Callable[[Mapping[str, Any], Context], dict]
    draw: Callable[[Mapping[str, Any]], Any]
    settings: str
    doc: str
    is_table: bool = False
    seeded: bool = False
