"""Table III on one scenario: every correction method and ablation arm, side by side, over paired seeds.

    .venv/bin/python benchmarks/correction_table.py [CONFIG] [--set key=value ...] [--seeds N] [--out DIR]

CONFIG: a YAML path or a shipped config name (default: leave-only). Runs
:func:`wirelora.experiments.sweep.sweep` once per seed (the config's seed + 0 .. N − 1; per seed the pre-event
phase and the oracle once, shared by every method and arm, so that comparisons are paired) and writes
benchmarks/results/correction_table.json: per column and row the mean, the 95 % t-interval and every seed's
value (``per_seed``), the paired differences (row − proposed, and row − no_correction for the final gap) with
their intervals and whether they exclude 0, each method's event-gap curve per seed, and the wall time.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from wirelora.config import apply_overrides, from_dict, load_mapping
from wirelora.evaluation.stats import describe, paired
from wirelora.evaluation.summary import table
from wirelora.experiments.sweep import sweep

HERE = Path(__file__).resolve().parent
COLS = ["final_gap", "final_gap_avg10", "ri", "norm_comm", "norm_total", "stored_bytes", "forget_gap",
        "contribution_residual", "forget_acc", "oracle_forget_acc", "mia_auc", "oracle_mia_auc"]  # fmt: skip
PAIRED = {"proposed": ["final_gap", "ri", "forget_gap", "forget_acc"], "no_correction": ["final_gap"]}


def _load(config: str) -> dict:
    p = Path(config)
    if not p.is_file():
        p = HERE.parent / "wirelora" / "experiments" / "configs" / f"{config}.yaml"
    return load_mapping(p)


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"--seeds={text!r}: must be an integer >= 1")
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", nargs="?", default="leave-only")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--out", default=str(HERE / "results" / "correction_table_runs"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seeds", type=_count, default=1, help="seeds: the config's seed + 0 .. N - 1")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from wirelora.learning.config import RunConfig

    raw = apply_overrides(_load(args.config), args.overrides)
    base = int(from_dict(RunConfig, raw).seed)
    seeds = [base + s for s in range(args.seeds)]
    t0 = time.perf_counter()
    tables, curves = [], {}
    for seed in seeds:
        cfg = from_dict(RunConfig, {**raw, "seed": seed})
        hists = sweep(cfg, out_dir=Path(args.out) / f"seed-{seed}", progress=False)
        tables.append({r["name"]: r for r in table(hists)})
        curves[seed] = {k: h.meta["correction"].get("event_gap_curve") for k, h in hists.items()}
    wall = time.perf_counter() - t0
    names = list(tables[0])
    values = {n: {c: [_number(t[n].get(c)) for t in tables] for c in COLS} for n in names}
    rows = [{"name": n, **{c: describe(values[n][c]) for c in COLS}} for n in names]
    diffs = {
        f"{col}_vs_{ref}": {n: paired(values[n][col], values[ref][col], vs=ref) for n in names if n != ref}
        for ref, cols in PAIRED.items()
        if ref in values
        for col in cols
    }
    out = {
        "config": args.config,
        "overrides": args.overrides,
        "seeds": seeds,
        "wall_s": wall,
        "rows": rows,
        "paired": diffs,
        "curves": curves,
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "correction_table.json").write_text(json.dumps(out, indent=1, allow_nan=False))
    print(f"{len(seeds)} seed(s) {seeds}; mean ± half-width of the 95 % t-interval (none with one seed)")
    print(" | ".join(["name", *COLS]))
    for r in rows:
        print(" | ".join([r["name"], *(_cell(r[c]) for c in COLS)]))
    print("paired differences: mean [95 % interval], * where the interval excludes 0")
    for key, by in diffs.items():
        for n, p in by.items():
            if p["mean"] is None:
                continue
            ci = (
                ""
                if p["lo"] is None
                else f" [{p['lo']:.4g}, {p['hi']:.4g}]{' *' if p['excludes_zero'] else ''}"
            )
            print(f"  {key}: {n}: {p['mean']:.4g}{ci}")
    print(f"wall {wall:.0f} s")


def _number(v) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _cell(d: dict) -> str:
    if d["mean"] is None:
        return "—"
    return f"{d['mean']:.4g}" + ("" if d["half_width"] is None else f" ± {d['half_width']:.2g}")


if __name__ == "__main__":
    main()
