"""Does the rule task's knowledge generalise? Measured at the shipped config ``leave-only-rule`` (issue 10):

(a) at the pre-event point (round 99; every device trained), held-out loss vs training loss of the consensus
    (mean over devices of each device's full training / eval loss): held-out <= 1.1 x train is the target;
(b) that model's held-out accuracy on every device's eval data (target >= 0.9);
(c) a model trained the same rounds without d0 (d0 leaves at round 1 and its block is projected out, so
    only the others' training remains) on d0's eval data: accuracy near chance (1 / num_values: it was
    never taught d0's dictionary).

    OMP_NUM_THREADS=1 python benchmarks/task_rule.py [--rounds 100] [--out benchmarks/results/task_rule.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from wirelora.experiments.runner import load_run_config
from wirelora.learning.checkpoint import load_checkpoint
from wirelora.learning.loop import run
from wirelora.learning.stacked import row_accuracy, row_losses
from wirelora.learning.state import TrainerState
from wirelora.learning.task_rule import rule_chance


def _trained(overrides: list[str]) -> TrainerState:
    cfg = load_run_config("leave-only-rule", ["oracle.enabled=false", "trainer.eval_every=20", *overrides])
    with tempfile.TemporaryDirectory() as tmp:
        run(cfg, out_dir=tmp, progress=False)
        state = TrainerState(cfg, seed=cfg.seed)
        load_checkpoint(Path(tmp) / "checkpoint.safetensors", state, None)
    return state


@torch.no_grad()
def _per_device(state: TrainerState, split: str) -> tuple[list[float], list[float]]:
    devices = list(state.task.devices)
    x, y = state.data(devices, split)
    cons = state.consensus()
    lg = state.logits({n: b.expand(len(devices), *b.shape) for n, b in cons.items()}, x)
    return row_losses(lg, y, len(devices)).tolist(), row_accuracy(lg, y, len(devices)).tolist()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--out", default="benchmarks/results/task_rule.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    everyone = _trained([f"trainer.rounds={args.rounds}", "events=[]"])
    train_loss, train_acc = _per_device(everyone, "train")
    eval_loss, eval_acc = _per_device(everyone, "eval")
    without = _trained([f"trainer.rounds={args.rounds}", "events=[{round: 1, leave: [d0]}]"])
    never_loss, never_acc = _per_device(without, "eval")
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    out = {
        "config": "leave-only-rule",
        "rounds": args.rounds,
        "chance_acc": rule_chance(everyone.config.task),
        "a_train_loss": mean(train_loss),
        "a_heldout_loss": mean(eval_loss),
        "a_ratio": mean(eval_loss) / mean(train_loss),
        "b_heldout_acc_per_device": eval_acc,
        "b_train_acc_per_device": train_acc,
        "c_never_saw_d0_acc_on_d0": never_acc[0],
        "c_never_saw_d0_loss_on_d0": never_loss[0],
        "c_same_model_acc_on_d1_d5": never_acc[1:],
        "wall_s": time.perf_counter() - t0,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
