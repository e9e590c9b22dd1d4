"""The ``wirelora allocate`` command: solve a scenario, print it as a table or JSON, and plot it."""

from __future__ import annotations

import json
import sys

from wirelora.allocation.problem import OBJECTIVES
from wirelora.allocation.report import format_table, to_json
from wirelora.allocation.scenario import load_scenario, solve_scenario
from wirelora.config import check_choice


def cli_allocate(args) -> int:
    """``wirelora allocate [SCENARIO] [--objective ...] [--json [--records]] [--plot PATH]``."""
    cfg = load_scenario(args.scenario)
    objective = getattr(args, "objective", None)
    if objective is not None:
        check_choice("--objective", objective, OBJECTIVES)
    prob, alloc, equal = solve_scenario(cfg, objective)
    if getattr(args, "json", False):
        print(json.dumps(to_json(prob, alloc, equal, per_link=getattr(args, "records", False))))
    else:
        if cfg.description:
            print(cfg.description.strip())
            print()
        print(format_table(prob, alloc, equal))
    plot = getattr(args, "plot", None)
    if plot:
        from wirelora.evaluation.plots.allocation import plot_allocation

        cap = cfg.latency_cap_s
        if cap is None and cfg.latency_cap_x_minmax is not None:
            from wirelora.allocation.scenario_round import round_kwargs

            cap = round_kwargs(cfg, prob, alloc.objective)["latency_cap_s"]
        saved = plot_allocation(prob, alloc, plot, latency_cap_s=cap)
        print(f"plot written to {saved}", file=sys.stderr)
    return 0
