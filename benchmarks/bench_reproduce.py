"""Wall time of `wirelora reproduce --quick` per target (the budget: every target together under 10 minutes on
the 2-core machine). Writes benchmarks/results/reproduce_quick.json.

    .venv/bin/python benchmarks/bench_reproduce.py [TARGET ...]     # default: all
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from wirelora.experiments.reproduce import TARGETS, load_data, reproduce


def main(argv: list[str]) -> int:
    targets = argv or list(TARGETS)
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        per_target = {}
        for t in targets:  # one call per target: its wall time includes any sweep it is the first to need
            t0 = time.perf_counter()
            reproduce([t], out_dir=tmp, quick=True, progress=False)
            per_target[t] = {
                "wall_s": round(time.perf_counter() - t0, 2),
                "recorded_elapsed_s": load_data(t, tmp)["elapsed_s"],
            }
            print(f"{t:8s} {per_target[t]['wall_s']:8.1f} s", flush=True)
        total = time.perf_counter() - start
    result = {
        "command": "reproduce(<each target>, quick=True), one process, targets in order",
        "targets": per_target,
        "total_s": round(total, 2),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
    }
    (out / "reproduce_quick.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"total    {total:8.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
