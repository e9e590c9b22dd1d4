"""Trainer throughput: wall time per round and peak memory for 6, 32 and 128 devices, the vectorised round
(devices folded into the batch, one backward pass) against the per-device loop (each device's model run on
its own through peft), on the tiny language model and the tiny MLP; and the wall time of a full default run
(leave-only).

    .venv/bin/python benchmarks/bench_trainer.py          # writes benchmarks/results/bench_trainer.json
    .venv/bin/python benchmarks/bench_trainer.py --quick  # fewer rounds, 6 and 32 devices only

Timing: both paths built in one process and their rounds interleaved, so that the load of other jobs on the
shared CPU hits both alike (the ratio is measured side by side). Memory: each path in its own process (its
own peak RSS). One torch thread throughout. A round here is one local step of every device (Adam, block
ownership) plus the gossip of the three layer groups (no evaluation); batch 8 per device. Ranks per size:
see SETUPS. The LM task: 4 facts per device with two-token keys at every size (12-token sequences); the MLP
task: 4 Gaussian clusters per device.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cards import card_for  # benchmarks/cards.py (this script's folder is on sys.path)

# Slotted bases need devices x rank <= in_features of every adapted layer (tiny LM: 128; tiny MLP: fc1 32),
# so ranks shrink as the device count grows; the MLP at 128 devices uses independent bases (no such limit).
SETUPS = {
    "tiny-lm": {
        6: ("slotted", {"early": 4, "mid": 8, "late": 16}),
        32: ("slotted", {"early": 1, "mid": 2, "late": 4}),
        128: ("slotted", {"early": 1, "mid": 1, "late": 1}),
    },
    "tiny-mlp": {
        6: ("slotted", {"early": 4, "mid": 8, "late": 16}),
        32: ("slotted", {"early": 1, "mid": 1, "late": 1}),
        128: ("independent", {"early": 1, "mid": 1, "late": 1}),
    },
}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _state(model: str, devices: int, vectorised: bool):
    from wirelora.config import from_dict
    from wirelora.learning.config import RunConfig
    from wirelora.learning.state import TrainerState

    basis, ranks = SETUPS[model][devices]
    if model == "tiny-lm":
        task = {
            "kind": "facts",
            "facts_per_device": 4,
            "pairs_per_sequence": 4,
            "key_tokens": 2,
            "num_values": 8,
        }
    else:
        task = {"kind": "clusters", "clusters_per_device": 4}
    task.update(
        {"num_devices": devices, "initial_devices": devices, "train_per_device": 32, "eval_per_device": 4}
    )
    card = card_for(model, devices, Path(tempfile.gettempdir()) / "wirelora-bench-cards")
    cfg = from_dict(
        RunConfig,
        {
            "name": f"bench-{model}-{devices}",
            "model": {"name": str(card), "ranks": ranks, "basis": basis},
            "task": task,
            "trainer": {
                "batch_size": 8,
                "step_size": 0.03,
                "optimizer": "adam",
                "gamma": 1.0,
                "density": 0.4,
                "vectorised": vectorised,
            },
        },
    )
    return TrainerState(cfg, seed=0)


def _round(state, backend, r: int) -> float:
    sched = state.default_schedule(r)
    t0 = time.perf_counter()
    state.local_steps(sched, r)
    state.exchange(sched, r, backend)
    return time.perf_counter() - t0


def timing(model: str, devices: int, rounds: int) -> dict:
    """Both paths in one process, rounds interleaved (vectorised, loop, vectorised, ...): the ratio is
    measured side by side, so load from other jobs on the shared CPU hits both alike."""
    import torch

    torch.set_num_threads(1)
    from wirelora.distributed.backend import InProcessBackend

    states = {"vectorised": _state(model, devices, True), "loop": _state(model, devices, False)}
    backend = InProcessBackend()
    times = {k: [] for k in states}
    for r in range(rounds + 1):
        for mode, st in states.items():
            t = _round(st, backend, r)
            if r > 0:  # round 0 is the warm-up
                times[mode].append(t)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    return {
        "model": model,
        "devices": devices,
        "basis": SETUPS[model][devices][0],
        "ranks": SETUPS[model][devices][1],
        "rounds_timed": rounds,
        "round_s_median": med,
        "round_s_all": times,
        "speedup": med["loop"] / med["vectorised"],
        "adapter_floats_per_copy": int(sum(b[0].numel() for b in states["vectorised"].blocks.values())),
    }


def memory(model: str, devices: int, vectorised: bool) -> dict:
    """Peak RSS of a process that builds one path and runs 3 rounds (its own process: its own peak)."""
    import torch

    torch.set_num_threads(1)
    from wirelora.distributed.backend import InProcessBackend

    st = _state(model, devices, vectorised)
    before = _peak_rss_mb()
    for r in range(3):
        _round(st, InProcessBackend(), r)
    return {
        "model": model,
        "devices": devices,
        "mode": "vectorised" if vectorised else "loop",
        "peak_rss_mb": _peak_rss_mb(),
        "rss_before_rounds_mb": before,
    }


def full_run() -> dict:
    from wirelora.experiments.runner import load_run_config
    from wirelora.learning.loop import run

    cfg = load_run_config("leave-only")
    t0 = time.perf_counter()
    h = run(cfg)
    wall = time.perf_counter() - t0
    last = h.rounds[-1]
    return {
        "config": "leave-only",
        "rounds": len(h.rounds),
        "oracle_rounds": cfg.oracle.rounds,
        "wall_s": wall,
        "peak_rss_mb": _peak_rss_mb(),
        "final_retain_loss": last["retain_loss"],
        "final_oracle_retain_loss": last.get("oracle_retain_loss"),
        "final_forget_acc": last["forget_acc"],
        "final_oracle_forget_acc": last.get("oracle_forget_acc"),
    }


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_trainer.json"))
    p.add_argument("--models", nargs="+", default=["tiny-lm", "tiny-mlp"], choices=list(SETUPS))
    p.add_argument("--timing", nargs=2, metavar=("MODEL", "DEVICES"), help=argparse.SUPPRESS)
    p.add_argument("--memory", nargs=3, metavar=("MODEL", "DEVICES", "MODE"), help=argparse.SUPPRESS)
    p.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    if a.timing:
        print(json.dumps(timing(a.timing[0], int(a.timing[1]), a.rounds)))
        return
    if a.memory:
        print(json.dumps(memory(a.memory[0], int(a.memory[1]), a.memory[2] == "vectorised")))
        return
    if a.full:
        print(json.dumps(full_run()))
        return

    sizes = [6, 32] if a.quick else [6, 32, 128]
    rounds = 2 if a.quick else a.rounds
    result = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch_threads": 1,
            "note": "2 cores shared with other engineers' jobs running at the same time",
        },
        "command": " ".join(["python", "benchmarks/bench_trainer.py", *sys.argv[1:]]),
        "timing": [],
        "memory": [],
    }
    for model in a.models:
        for m in sizes:
            t = _child(["--timing", model, str(m), "--rounds", str(rounds)])
            result["timing"].append(t)
            med = t["round_s_median"]
            print(
                f"{model:8s} {m:4d} devices: vectorised {med['vectorised'] * 1e3:8.1f} ms/round, "
                f"loop {med['loop'] * 1e3:8.1f} ms/round, speed-up {t['speedup']:.1f}x",
                flush=True,
            )
            for mode in ("vectorised", "loop"):
                mem = _child(["--memory", model, str(m), mode])
                result["memory"].append(mem)
                print(
                    f"{model:8s} {m:4d} devices: {mode:10s} peak RSS {mem['peak_rss_mb']:6.0f} MB "
                    f"(after set-up {mem['rss_before_rounds_mb']:6.0f} MB)",
                    flush=True,
                )
    if not a.quick:
        result["full_run"] = _child(["--full"])
        print(f"leave-only full run: {result['full_run']['wall_s']:.1f} s", flush=True)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
