"""``wirelora reproduce``: one recipe per figure or table: settings → run → data → figure.

Every target is a :class:`~wirelora.experiments.reproduce.recipe.Recipe`: ``compute(settings, ctx) -> data``
runs the experiment and returns plain JSON-able data; ``draw(data)`` turns that data into a figure by one call
into :mod:`wirelora.evaluation.plots` (or into a table). Because drawing needs only the saved data,
``--from-data`` redraws a figure without re-running. Each target has two settings, kept as YAML in
``wirelora/experiments/configs/reproduce/<family>.yaml``: ``full`` (the default; the figures committed in
``figures/``) and ``quick`` (the same code path, small enough that every target together finishes in minutes
on two CPU cores).

    recipe.py      Recipe, Context (progress, the in-memory run cache)
    framework.py   settings, reproduce(), --from-data, the CLI handler
    outputs.py     the files: <name>.json / .csv / .png / .pdf (tables: .md / .csv)
    runs.py        shipped run configs with overrides; the on-disk sweep cache (<out>/runs/<sweep>/seed-<s>/)
    targets.py     TARGETS: the one registry, in the order `reproduce all` runs them
    correction.py  fig3 - fig8, table3       allocation.py  alloc, pareto
    adapter.py     leakage, join             policy.py      regimes

Files written per target, all named after it, in the output directory::

    <name>.json   {"target", "quick", "settings" (+ "seeds"), "elapsed_s", "wirelora_version", "data"}
    <name>.csv    the data in long form: quantity, series, index, value (tables: one row per arm)
    <name>.png / <name>.pdf   the figure          (table3: table3.md instead)

The seeded targets (``fig3`` - ``fig8``, ``table3``) run ``seeds`` seeds, paired across methods, and store
every number as its mean, 95 % t-interval and per-seed values (:mod:`wirelora.evaluation.stats`).

    from wirelora.experiments.reproduce import reproduce
    paths = reproduce(["alloc"], out_dir="runs/quick", quick=True)   # {"alloc": [Path(...), ...]}
"""

from wirelora.experiments.reproduce.correction import window_curve
from wirelora.experiments.reproduce.framework import cli_reproduce, load_data, reproduce, settings_for
from wirelora.experiments.reproduce.targets import TARGETS

__all__ = ["TARGETS", "reproduce", "load_data", "settings_for", "window_curve", "cli_reproduce"]
