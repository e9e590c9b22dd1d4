"""Table III on one scenario: every correction method and ablation arm, side by side in one run.

    .venv/bin/python benchmarks/correction_table.py [CONFIG] [--set key=value ...] [--out DIR]

CONFIG: a YAML path or a shipped config name (default: leave-only). Runs
:func:`wirelora.correction.sweep.sweep` (the pre-event phase and the oracle once, then each method and arm
for K correction rounds) and writes benchmarks/results/correction_table.json: the table rows, each method's
event-gap curve, and the wall time.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from wirelora.config import apply_overrides, from_dict, load_mapping
from wirelora.correction.sweep import sweep, table

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
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from wirelora.learning.trainer import RunConfig

    raw = apply_overrides(_load(args.config), args.overrides)
    cfg = from_dict(RunConfig, raw)
    t0 = time.perf_counter()
    hists = sweep(cfg, out_dir=args.out, progress=False)
    wall = time.perf_counter() - t0
    rows = table(hists)
    out = {
        "config": args.config,
        "overrides": args.overrides,
        "wall_s": wall,
        "rows": rows,
        "curves": {k: h.meta["correction"].get("event_gap_curve") for k, h in hists.items()},
        "plans": {k: h.meta["correction"].get("plan") for k, h in hists.items()},
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "correction_table.json").write_text(json.dumps(out, indent=1))
    cols = [
        "name",
        "final_gap",
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


if __name__ == "__main__":
    main()
