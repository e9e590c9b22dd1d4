"""Allocator benchmark: cvxpy first solve / re-solve, the closed-form reference, the optimality gap, and what
a user would otherwise use (equal split; scipy SLSQP) on real channel instances of 10..1000 links x 3 groups.

    .venv/bin/python benchmarks/bench_allocator.py            # -> benchmarks/results/bench_allocator.json
    .venv/bin/python benchmarks/bench_allocator.py --links 10 100 --slsqp-max-links 10

Instances: devices in a 250 m disc with Rayleigh fading (method.md §7), links drawn from all device pairs,
three layer groups with payloads 4/8/16 x 1e5 bit (x U(0.5, 2)), 20 MHz. The re-solve uses a new fading draw
on the same links (what the correction loop does every round). Times are wall-clock medians.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np

from wirelora.allocation import BandwidthAllocator, SolverError, allocate
from wirelora.allocation.baselines import equal_split, slsqp_minmax
from wirelora.allocation.scenario import random_instance
from wirelora.wireless.rates import shannon_rate_bps

TOTAL_HZ = 20e6


def instance(num_links: int, seed: int):
    return random_instance(num_links, seed=seed)


def timed(fn, repeat=1, *, best=False):
    """(result, median wall time), or with best=True the fastest repeat (robust to a shared machine)."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, float(np.min(times) if best else np.median(times))


def bench(num_links: int, seed: int, slsqp_max_links: int) -> dict:
    q, draw = instance(num_links, seed)
    a1, a2 = draw(), draw()
    row = {
        "links": num_links,
        "groups": 3,
        "entries": int(q.size),
        "link_snr_hz_min": float(min(a1.min(), a2.min())),
        "link_snr_hz_max": float(max(a1.max(), a2.max())),
    }
    for objective, kw in (("minmax", {}), ("weighted", {"weights": [0.635, 1.139, 2.055]})):
        ref, t_ref = timed(
            lambda kw=kw, objective=objective: allocate(q, a2, TOTAL_HZ, objective=objective, **kw), repeat=5
        )
        _, t_ref_best = timed(
            lambda kw=kw, objective=objective: allocate(q, a2, TOTAL_HZ, objective=objective, **kw),
            repeat=20,
            best=True,
        )
        res = {"reference_s": t_ref, "reference_best_s": t_ref_best, "reference_value": ref.objective_value}
        solver = None
        try:
            # first solve: a fresh allocator (builds and compiles the DPP problem), median of 3
            firsts = []
            for _ in range(3):
                t0 = time.perf_counter()
                solver = BandwidthAllocator(q.shape, objective)
                solver.solve(q, a1, TOTAL_HZ, **kw)
                firsts.append(time.perf_counter() - t0)
            res["cvxpy_first_s"] = float(np.median(firsts))
            res["cvxpy_first_attempts"] = solver.last_attempts
            # re-solve: new parameter values (a new fading draw) on the built problem, median of 3
            alloc, t_re = timed(lambda kw=kw, solver=solver: solver.solve(q, a2, TOTAL_HZ, **kw), repeat=3)
            res["cvxpy_resolve_s"] = t_re
            res["cvxpy_resolve_attempts"] = solver.last_attempts
            res["resolve_speedup"] = res["cvxpy_first_s"] / t_re
            res["cvxpy_value"] = alloc.objective_value
            res["relative_gap"] = alloc.objective_value / ref.objective_value - 1.0
        except SolverError as exc:
            res["cvxpy_error"] = str(exc)
        row[objective] = res
    # what a user would otherwise do, on the min-max problem
    b_eq = equal_split(q, TOTAL_HZ)
    row["equal_split_round_latency_s"] = float(np.max(q / shannon_rate_bps(b_eq, a2)))
    row["optimal_round_latency_s"] = row["minmax"]["reference_value"]
    if num_links <= slsqp_max_links:
        (t_sl, _, res_sl), t_slsqp = timed(lambda: slsqp_minmax(q, a2, TOTAL_HZ))
        row["slsqp"] = {
            "round_latency_s": t_sl,
            "time_s": t_slsqp,
            "success": bool(res_sl.success),
            "message": str(res_sl.message),
            "iterations": int(res_sl.nit),
            "relative_gap": t_sl / row["optimal_round_latency_s"] - 1.0,
        }
    else:
        row["slsqp"] = {"skipped": f"more than --slsqp-max-links={slsqp_max_links} links"}
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--links", type=int, nargs="+", default=[10, 100, 300, 1000])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--slsqp-max-links", type=int, default=100)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_allocator.json"))
    args = p.parse_args()
    warnings.simplefilter("ignore")
    rows = []
    for n in args.links:
        row = bench(n, args.seed, args.slsqp_max_links)
        rows.append(row)
        mm = row["minmax"]
        print(
            f"{n:5d} links x 3: reference {mm['reference_s'] * 1e3:.2f} ms, cvxpy first "
            f"{mm.get('cvxpy_first_s', float('nan')):.3f} s, "
            f"re-solve {mm.get('cvxpy_resolve_s', float('nan')):.3f} s, "
            f"gap {mm.get('relative_gap', mm.get('cvxpy_error'))}, equal split "
            f"{row['equal_split_round_latency_s'] / row['optimal_round_latency_s']:.2f}x",
            flush=True,
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "machine": platform.platform(),
        "python": platform.python_version(),
        "total_bandwidth_hz": TOTAL_HZ,
        "command": "benchmarks/bench_allocator.py "
        + " ".join(f"--links {' '.join(map(str, args.links))}".split()),
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
