"""The ``wirelora allocate`` command: solve a scenario, print it as a table or JSON, and plot it."""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from wirelora.allocation.problem import OBJECTIVES
from wirelora.allocation.report import format_table, to_json
from wirelora.allocation.scenario import load_scenario, solve_scenario
from wirelora.config import ConfigError, check_choice, require

MAX_PLOT_ENTRIES = 2000  # one bar per link entry: beyond this a bar chart is unreadable and huge


def _check_plot_path(plot: str) -> None:
    """Before solving (and before printing anything): the plot's folder exists and is writable."""
    path = Path(plot)
    folder = path.parent if str(path.parent) else Path(".")
    if path.exists() and path.is_dir():
        raise ConfigError(f"--plot={plot!r}: is a directory")
    if not folder.is_dir():
        raise ConfigError(f"--plot={plot!r}: {str(folder)!r} is not a directory")
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"--plot={plot!r}: {str(folder)!r} is not writable")


def cli_allocate(args) -> int:
    """``wirelora allocate [SCENARIO] [--objective ...] [--json [--records]] [--plot PATH]``."""
    cfg = load_scenario(args.scenario)
    objective = getattr(args, "objective", None)
    if objective is not None:
        check_choice("--objective", objective, OBJECTIVES)
    plot = getattr(args, "plot", None)
    if plot:
        _check_plot_path(plot)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # extreme magnitudes are checked and named by the solver; numpy's own warnings would only add lines
        warnings.simplefilter("ignore", RuntimeWarning)
        prob, alloc, equal = solve_scenario(cfg, objective)
    if plot:
        entries = int(np.count_nonzero(prob.payload_bits))
        require(
            entries <= MAX_PLOT_ENTRIES,
            "--plot",
            plot,
            f"draws one bar per link entry, at most {MAX_PLOT_ENTRIES} (this scenario has {entries})",
        )
    if getattr(args, "json", False):
        print(json.dumps(to_json(prob, alloc, equal, per_link=getattr(args, "records", False))))
    else:
        if cfg.description:
            print(cfg.description.strip())
            print()
        print(format_table(prob, alloc, equal))
    if plot:
        from wirelora.evaluation.plots.allocation import plot_allocation

        cap = cfg.latency_cap_s
        if cap is None and cfg.latency_cap_x_minmax is not None:
            from wirelora.allocation.scenario_round import round_kwargs

            cap = round_kwargs(cfg, prob, alloc.objective)["latency_cap_s"]
        saved = plot_allocation(prob, alloc, plot, latency_cap_s=cap)
        print(f"plot written to {saved}", file=sys.stderr)
    return 0
