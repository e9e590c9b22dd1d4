"""Benchmark of the round-model problems (issue 12): transmit power, computation, CPU frequency, TDMA and
energy + time — closed form vs cvxpy first solve / re-solve vs scipy SLSQP, the gaps to the closed-form
optimum, and the saving over fixed power and over the equal split; plus the Yang-type instance's energy saving
at 1.5 T* and 3 T*.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_round.py   # -> benchmarks/results/bench_round.json
    .venv/bin/python benchmarks/bench_round.py --links 10 100 --cvxpy-max-links 100 --slsqp-max-links 10

Instances: the uplink cell of the bundled ``yang`` example (500 m square, 128.1 + 37.6 log10 d, 8 dB
shadowing, -174 dBm/Hz, 10 dBm, 28.1 kbit, 20 MHz) with ``--links`` users; computation 2e4 cycles/sample x
500 samples, f_max 2 GHz, kappa 1e-28. The re-solve is the same program on a second draw (seed + 1). The
equal split: the band (or the frame) in equal parts at full power and the fastest CPU; "fixed power": the same
problem with the power fixed at max_tx_power_w (only where the power is a variable).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import slsqp_round

from wirelora.allocation import SolverError, allocate
from wirelora.allocation.problem import AllocationProblem
from wirelora.allocation.round_model import RoundInputs
from wirelora.allocation.round_solve import evaluate_round
from wirelora.allocation.scenario import build_problem, load_scenario, solve_scenario

CPU = {"compute_cycles": 2e4, "samples": 500, "max_cpu_hz": 2e9, "kappa": 1e-28}


def cell(n: int, seed: int):
    cfg = dataclasses.replace(load_scenario("yang"), num_users=n, seed=seed)
    prob = build_problem(cfg)
    return prob.payload_bits, prob.link_snr_hz, prob.total_bandwidth_hz


def problems(q, a, total):
    """name -> allocate keyword arguments (caps relative to the instance's min-max round)."""
    t_star = allocate(q, a, total).round_latency_s
    t_cmp = allocate(q, a, total, **CPU).round_latency_s
    t_tdma = allocate(q, a, total, access="tdma").round_latency_s
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
            **CPU,
        },
        "energy, power + CPU variable (cap 3 T*)": {
            "objective": "energy",
            "latency_cap_s": 3 * t_cmp,
            "max_tx_power_w": 0.01,
            **CPU,
        },
        "minmax, tdma": {"access": "tdma"},
        "energy, tdma, power variable (cap 1.5 T*)": {
            "objective": "energy",
            "access": "tdma",
            "latency_cap_s": 1.5 * t_tdma,
            "max_tx_power_w": 0.01,
        },
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
        "energy_time, CPU variable (w = 1 J/s)": {
            "objective": "energy_time",
            "tx_power_w": 0.01,
            "time_weight_j_per_s": 1.0,
            **CPU,
        },
    }


def best_of(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, float(np.min(times))


def baselines(q, a, total, kw, value) -> dict:
    """The optimum over the equal split (full power, fastest CPU) and, where the power is a variable, over the
    same problem at a fixed power max_tx_power_w."""
    out = {}
    rest, inputs = RoundInputs.split(kw)
    req = AllocationProblem.build(q, a, total, **rest, round_inputs=inputs)
    if req.round is not None:
        rm, used = req.round, req.used
        n = int(used.sum())
        x = np.full(n, 1.0 / n) if rm.access == "tdma" else np.full(n, total / n)
        power = (
            None if rm.pmax is None and req.p is None else (rm.pmax if rm.pmax is not None else req.p)[used]
        )
        f = None if rm.cycles is None else (rm.cpu_max if rm.cpu_variable else rm.cpu_hz)[used]
        eq = evaluate_round(req, x, power, f, method="equal split", t0=0.0, check=False)
        finish = (0.0 if eq.compute_time_s is None else eq.compute_time_s) + eq.link_latency_s
        cap = req.cap
        out["equal_split_value"] = eq.objective_value
        out["optimum_over_equal_split"] = value / eq.objective_value
        out["equal_split_meets_caps"] = bool(cap is None or np.all(finish[used] <= cap[used] * (1 + 1e-9)))
    if kw.get("max_tx_power_w") is not None and kw.get("objective") in ("energy", "energy_time"):
        fixed = dict(kw, tx_power_w=kw["max_tx_power_w"], max_tx_power_w=None)
        fixed_value = allocate(q, a, total, **fixed).objective_value
        out["fixed_power_value"] = fixed_value
        out["optimum_over_fixed_power"] = value / fixed_value
    return out


def bench(n: int, seed: int, cvxpy_max: int, slsqp_max: int) -> dict:
    q, a, total = cell(n, seed)
    q2, a2, _ = cell(n, seed + 1)
    row = {"links": n}
    kw2 = problems(q2, a2, total)
    for name, kw in problems(q, a, total).items():
        repeat = 3 if n <= 1000 else 1
        ref, t_ref = best_of(lambda kw=kw: allocate(q, a, total, **kw), repeat)
        res = {
            "closed_form_s": t_ref,
            "value": ref.objective_value,
            **baselines(q, a, total, kw, ref.objective_value),
        }
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
        if n <= slsqp_max:
            value, t_sl, ok, worst = slsqp_round.solve(name, q, a, total, kw)
            res["slsqp_s"], res["slsqp_gap"] = t_sl, value / ref.objective_value - 1
            res["slsqp_success"], res["slsqp_max_violation"] = ok, worst
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
    p.add_argument("--slsqp-max-links", type=int, default=100)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_round.json"))
    args = p.parse_args()
    warnings.simplefilter("ignore")
    t_start = time.perf_counter()
    load_start = os.getloadavg()
    savings = yang_savings()
    print(json.dumps(savings, indent=1), flush=True)
    rows = []
    for n in args.links:
        row = bench(n, args.seed, args.cvxpy_max_links, args.slsqp_max_links)
        rows.append(row)
        for name, r in row.items():
            if name != "links":
                first, re = r.get("cvxpy_first_s", float("nan")), r.get("cvxpy_resolve_s", float("nan"))
                print(
                    f"{n:6d} {name:42s} closed {r['closed_form_s'] * 1e3:8.2f} ms cvxpy first {first:7.3f} s "
                    f"re {re:7.3f} s gap {r.get('relative_gap', r.get('cvxpy', '-'))} "
                    f"slsqp {r.get('slsqp_s', float('nan')):7.2f} s gap {r.get('slsqp_gap', '-')}",
                    flush=True,
                )
    meta = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "command": "benchmarks/bench_round.py --links "
        + " ".join(map(str, args.links))
        + f" --cvxpy-max-links {args.cvxpy_max_links} --slsqp-max-links {args.slsqp_max_links}",
        "load_average_start_end": [load_start[0], os.getloadavg()[0]],
        "wall_s": time.perf_counter() - t_start,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "yang_savings": savings, "rows": rows}, indent=2))
    print(f"wrote {out} in {meta['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
