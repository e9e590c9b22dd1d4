"""Table III on one scenario: every correction method and ablation arm, side by side in one run.

    .venv/bin/python benchmarks/correction_table.py [CONFIG] [--set key=value ...] [--out DIR]

CONFIG: a YAML path or a shipped config name (default: leave-only). Runs
:func:`wirelora.experiments.sweep.sweep` (the oracle once, each method and arm through the whole run) and
writes benchmarks/results/correction_table.json: the table rows, each method's event-gap curve, and the wall
time.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from wirelora.config import apply_overrides, from_dict, load_mapping
from wirelora.evaluation.summary import table
from wirelora.experiments.sweep import sweep

HERE = Path(__file__).resolve().parent


def _load(config: str) -> dict:
    p = Path(config)
    if not p.is_file():
        p = HERE.parent / "wirelora" / "experiments" / "configs" / f"{config}.yaml"
    return load_mapping(p)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", nargs="?", default="leave-only")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--out", default=str(HERE / "results" / "correction_table_runs"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--seeds", type=int, nargs="+", default=[0], help="one sweep per seed; the table is the mean"
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from wirelora.learning.config import RunConfig

    raw = apply_overrides(_load(args.config), args.overrides)
    t0 = time.perf_counter()
    per_seed, curves = {}, {}
    for seed in args.seeds:
        cfg = from_dict(RunConfig, {**raw, "seed": seed})
        hists = sweep(cfg, out_dir=Path(args.out) / f"seed-{seed}", progress=False)
        per_seed[seed] = table(hists)
        curves[seed] = {k: h.meta["correction"].get("event_gap_curve") for k, h in hists.items()}
    wall = time.perf_counter() - t0
    rows = _mean_rows(list(per_seed.values()))
    out = {
        "config": args.config,
        "overrides": args.overrides,
        "seeds": args.seeds,
        "wall_s": wall,
        "rows": rows,
        "rows_per_seed": per_seed,
        "curves": curves,
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "correction_table.json").write_text(json.dumps(out, indent=1))
    cols = [
        "name",
        "final_gap",
        "final_gap_avg10",
        "ri",
        "norm_comm",
        "norm_total",
        "stored_bytes",
        "forget_gap",
        "contribution_residual",
        "forget_acc",
        "oracle_forget_acc",
        "mia_auc",
        "oracle_mia_auc",
    ]
    print(" | ".join(cols))
    for r in rows:
        print(" | ".join(f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in cols))
    print(f"wall {wall:.0f} s")


def _mean_rows(tables: list[list[dict]]) -> list[dict]:
    """Mean over seeds of every numeric column, row by row (same names in the same order)."""
    out = []
    for rows in zip(*tables):
        mean = {"name": rows[0]["name"]}
        for k in rows[0]:
            if k == "name":
                continue
            vals = [r[k] for r in rows if isinstance(r.get(k), int | float)]
            mean[k] = float(sum(vals) / len(vals)) if vals else None
        out.append(mean)
    return out


if __name__ == "__main__":
    main()
