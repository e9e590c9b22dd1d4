"""Benchmark of the round-model problems (issue 12): transmit power, computation, CPU frequency, TDMA and
energy + time — closed form vs cvxpy first solve / re-solve, the gap, and the saving over fixed power and over
the equal split; plus the Yang-type instance's energy saving at 1.5 T* and 3 T*.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_round.py   # -> benchmarks/results/bench_round.json
    .venv/bin/python benchmarks/bench_round.py --links 10 100 --cvxpy-max-links 100

Instances: the uplink cell of the bundled ``yang`` example (500 m square, 128.1 + 37.6 log10 d, 8 dB
shadowing, -174 dBm/Hz, 10 dBm, 28.1 kbit, 20 MHz) with ``--links`` users; computation 2e4 cycles/sample x
500 samples, f_max 2 GHz, kappa 1e-28. The re-solve is the same program on a second draw (seed + 1).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np

from wirelora.allocation import SolverError, allocate
from wirelora.allocation.scenario import build_problem, load_scenario, solve_scenario


def cell(n: int, seed: int):
    cfg = dataclasses.replace(load_scenario("yang"), num_users=n, seed=seed)
    prob = build_problem(cfg)
    return prob.payload_bits, prob.link_snr_hz, prob.total_bandwidth_hz


def problems(q, a, total):
    """name -> allocate keyword arguments (caps relative to the instance's min-max round)."""
    t_star = allocate(q, a, total).round_latency_s
    cpu = {"compute_cycles": 2e4, "samples": 500, "max_cpu_hz": 2e9, "kappa": 1e-28}
    t_cmp = allocate(q, a, total, **cpu).round_latency_s
    return {
        "energy, power variable (cap 1.5 T*)": {
            "objective": "energy",
            "latency_cap_s": 1.5 * t_star,
            "max_tx_power_w": 0.01,
        },
        "minmax, computation first": {"compute_time_s": np.linspace(0, t_star, q.size)},
        "energy, CPU variable (cap 3 T*)": {
            "objective": "energy",
            "latency_cap_s": 3 * t_cmp,
            "tx_power_w": 0.01,
            **cpu,
        },
        "energy, power + CPU variable (cap 3 T*)": {
            "objective": "energy",
            "latency_cap_s": 3 * t_cmp,
            "max_tx_power_w": 0.01,
            **cpu,
        },
        "minmax, tdma": {"access": "tdma"},
        "energy_time, fixed power (w = 1 J/s)": {
            "objective": "energy_time",
            "tx_power_w": 0.01,
            "time_weight_j_per_s": 1.0,
        },
        "energy_time, power variable (w = 1 J/s)": {
            "objective": "energy_time",
            "max_tx_power_w": 0.01,
            "time_weight_j_per_s": 1.0,
        },
    }


def best_of(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, float(np.min(times))


def bench(n: int, seed: int, cvxpy_max: int) -> dict:
    q, a, total = cell(n, seed)
    q2, a2, _ = cell(n, seed + 1)
    row = {"links": n}
    kw2 = problems(q2, a2, total)
    for name, kw in problems(q, a, total).items():
        repeat = 3 if n <= 1000 else 1
        ref, t_ref = best_of(lambda kw=kw: allocate(q, a, total, **kw), repeat)
        res = {"closed_form_s": t_ref, "value": ref.objective_value}
        if n <= cvxpy_max:
            try:
                first, t_first = best_of(lambda kw=kw: allocate(q, a, total, method="cvxpy", **kw), 1)
                res["cvxpy_first_s"] = t_first
                res["relative_gap"] = first.objective_value / ref.objective_value - 1.0
                _, t_re = best_of(lambda kw=kw2[name]: allocate(q2, a2, total, method="cvxpy", **kw), 1)
                res["cvxpy_resolve_s"] = t_re
                res["first_over_resolve"] = t_first / t_re
            except (SolverError, ValueError) as exc:
                res["cvxpy"] = str(exc).splitlines()[0]
        row[name] = res
    return row


def yang_savings() -> dict:
    """Energy of the joint power + bandwidth optimum over wirelora's fixed-power optimum, and over the equal
    split at fixed power, on the bundled Yang-type instance at 1.5 T* and 3 T*."""
    out = {}
    cfg = load_scenario("yang")
    for factor in (1.5, 3.0):
        c = dataclasses.replace(cfg, latency_cap_x_minmax=factor)
        _, joint, _ = solve_scenario(c)
        _, fixed, _ = solve_scenario(dataclasses.replace(c, power_variable=False))
        q, a, total = cell(cfg.num_users, cfg.seed)
        eq = float(np.sum(0.01 * q / (total / q.size * np.log2(1 + a / (total / q.size)))))
        out[f"{factor} T*"] = {
            "joint_energy_j": joint.objective_value,
            "fixed_power_energy_j": fixed.objective_value,
            "joint_over_fixed": joint.objective_value / fixed.objective_value,
            "equal_split_fixed_power_energy_j": eq,
        }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--links", type=int, nargs="+", default=[10, 100, 1000, 10000])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cvxpy-max-links", type=int, default=1000)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_round.json"))
    args = p.parse_args()
    warnings.simplefilter("ignore")
    t_start = time.perf_counter()
    savings = yang_savings()
    print(json.dumps(savings, indent=1), flush=True)
    rows = []
    for n in args.links:
        row = bench(n, args.seed, args.cvxpy_max_links)
        rows.append(row)
        for name, r in row.items():
            if name != "links":
                first, re = r.get("cvxpy_first_s", float("nan")), r.get("cvxpy_resolve_s", float("nan"))
                print(
                    f"{n:6d} {name:42s} closed {r['closed_form_s'] * 1e3:8.2f} ms cvxpy first {first:7.3f} s "
                    f"re {re:7.3f} s gap {r.get('relative_gap', r.get('cvxpy', '-'))}",
                    flush=True,
                )
    meta = {
        "machine": platform.platform(),
        "python": platform.python_version(),
        "command": "benchmarks/bench_round.py --links "
        + " ".join(map(str, args.links))
        + f" --cvxpy-max-links {args.cvxpy_max_links}",
        "wall_s": time.perf_counter() - t_start,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "yang_savings": savings, "rows": rows}, indent=2))
    print(f"wrote {out} in {meta['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
