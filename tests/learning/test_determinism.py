"""The same seed gives the same History whatever the environment's thread count: the run fixes its own
(``trainer.threads``, default 1)."""

import json
import os
import subprocess
import sys

CODE = """
import json, sys
from wirelora.config import apply_overrides, from_dict, load_mapping
from wirelora.experiments.runner import CONFIG_DIR
from wirelora.learning import RunConfig, run
raw = load_mapping(CONFIG_DIR / "leave-only.yaml")
raw["trainer"].pop("threads", None)  # the default
raw = apply_overrides(raw, ["trainer.rounds=4", "events=[{round: 2, leave: [d0]}]", "oracle.enabled=false",
                            "task.train_per_device=8", "task.eval_per_device=4", *sys.argv[1:]])
print(json.dumps(run(from_dict(RunConfig, raw), seed=3).without_timing()["rounds"]))
"""


def _rounds(threads: int, *overrides: str) -> list:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    argv = [sys.executable, "-c", CODE, *overrides]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_history_does_not_depend_on_omp_num_threads():
    assert _rounds(1) == _rounds(2)
