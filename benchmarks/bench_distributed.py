"""The torch.distributed backend: round time for 6, 32 and 128 devices on 1, 2 and 4 processes (gloo, this
machine, 127.0.0.1) beside the in-process run, and the bytes each process exchanges per round.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_distributed.py  # -> results/bench_distributed.json
    .venv/bin/python benchmarks/bench_distributed.py --devices 6 32 --procs 1 2 --rounds 10

A round is the loop's round (wirelora.learning.loop.run): the schedule (rank 0's, broadcast), every
device's local step (Adam, block ownership; each process its shard of the slots), the exchange of the
trained rows (``--exchange``: all_gather, p2p, or both side by side — the default) and the gossip of the
three layer groups; evaluation only in the first and the last round,
which are not timed (the median of the others is reported). Model and ranks as benchmarks/bench_trainer.py:
the tiny MLP; 6 devices slotted ranks 4/8/16, 32 devices slotted rank 1, 128 devices independent bases
rank 1 (a card file with max_devices = devices, written to a temporary folder). One torch thread per
process. Bytes: the logical payload of the collectives and sends (all_gather of the packed rows, or p2p's
rows to rank 0 and along the crossing edges plus its all_gather in the last round, broadcast of the
pickled schedule), per process per round averaged over the run, measured by the backend — a multi-node
round adds about bytes / link speed to the single-machine round.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cards import card_for  # benchmarks/cards.py (this script's folder is on sys.path)

SETUPS = {  # devices -> (basis, ranks), as bench_trainer.py's tiny-mlp
    6: ("slotted", {"early": 4, "mid": 8, "late": 16}),
    32: ("slotted", {"early": 1, "mid": 1, "late": 1}),
    128: ("independent", {"early": 1, "mid": 1, "late": 1}),
}


def _config(devices: int, rounds: int, card_dir: Path, exchange: str = "all_gather"):
    from wirelora.config import from_dict
    from wirelora.learning.config import RunConfig

    path = card_for("tiny-mlp", devices, card_dir)
    basis, ranks = SETUPS[devices]
    return from_dict(
        RunConfig,
        {
            "name": f"bench-dist-{devices}",
            "model": {"name": str(path), "ranks": ranks, "basis": basis},
            "task": {
                "kind": "clusters",
                "clusters_per_device": 4,
                "num_devices": devices,
                "initial_devices": devices,
                "train_per_device": 32,
                "eval_per_device": 4,
            },
            "trainer": {
                "rounds": rounds,
                "batch_size": 8,
                "optimizer": "adam",
                "eval_every": rounds,
                "device_losses": False,
                "checkpoint_every": 0,
                "threads": 1,
            },
            "distributed": {"timeout_s": 120, "exchange": exchange},
        },
    )


def _median_round_s(history) -> float:
    times = sorted(r["wall_time_s"] for r in history.rounds[1:-1])
    return times[len(times) // 2]


def worker(devices: int, rounds: int, card_dir: Path, out: Path, exchange: str) -> None:
    """One rank (from the environment variables): run, then write this rank's numbers to ``out``."""
    from wirelora.distributed.process_group import ProcessGroupBackend
    from wirelora.experiments.distributed_run import configure
    from wirelora.learning.loop import run

    backend = ProcessGroupBackend()
    try:
        config = _config(devices, rounds, card_dir, exchange)
        configure(backend, config)  # as `wirelora run --backend dist` does
        history = run(config, backend=backend)
        result = {
            "rank": backend.rank,
            "bytes_sent_per_round": backend.bytes_sent / rounds,
            "bytes_received_per_round": backend.bytes_received / rounds,
        }
        if backend.is_writer:
            result["round_s_median"] = _median_round_s(history)
        out.write_text(json.dumps(result))
    finally:
        backend.close()


def inprocess(devices: int, rounds: int, card_dir: Path) -> float:
    import torch

    from wirelora.learning.loop import run

    torch.set_num_threads(1)
    return _median_round_s(run(_config(devices, rounds, card_dir)))


def distributed(devices: int, procs: int, rounds: int, card_dir: Path, exchange: str) -> dict:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    files = [card_dir / f"rank-{devices}-{procs}-{exchange}-{r}.json" for r in range(procs)]
    env = {**os.environ, "WORLD_SIZE": str(procs), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        str(devices),
        "--rounds",
        str(rounds),
        "--card-dir",
        str(card_dir),
        "--exchange",
        str(exchange),
    ]
    running = [
        subprocess.Popen([*cmd, "--worker-out", str(f)], env={**env, "RANK": str(r), "LOCAL_RANK": str(r)})
        for r, f in enumerate(files)
    ]
    for p in running:
        if p.wait() != 0:
            raise SystemExit(f"bench_distributed: a rank of devices={devices} procs={procs} failed")
    load = os.getloadavg()[0]
    ranks = [json.loads(f.read_text()) for f in files]
    per_rank = [r["bytes_sent_per_round"] + r["bytes_received_per_round"] for r in ranks]
    return {
        "round_s_median": ranks[0]["round_s_median"],
        "load_avg_1min_after": load,
        "bytes_per_round_per_process": {
            "sent": [r["bytes_sent_per_round"] for r in ranks],
            "received": [r["bytes_received_per_round"] for r in ranks],
            "max_total": max(per_rank),
        },
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=int, nargs="*", default=[6, 32, 128])
    p.add_argument("--procs", type=int, nargs="*", default=[1, 2, 4])
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--exchange", nargs="*", default=["all_gather", "p2p"], choices=["all_gather", "p2p"])
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_distributed.json"))
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--worker-out", default=None, help=argparse.SUPPRESS)
    p.add_argument("--card-dir", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker is not None:
        worker(args.worker, args.rounds, Path(args.card_dir), Path(args.worker_out), args.exchange[0])
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-dist-") as tmp:
        for devices in args.devices:
            row = {"devices": devices, "basis": SETUPS[devices][0], "ranks": SETUPS[devices][1]}
            row["inprocess_round_s_median"] = inprocess(devices, args.rounds, Path(tmp))
            row["load_avg_1min_before"] = os.getloadavg()[0]
            row["dist"] = {  # p2p on one process is the all_gather path (no peers): not run
                mode: {
                    str(n): distributed(devices, n, args.rounds, Path(tmp), mode)
                    for n in args.procs
                    if mode == "all_gather" or n > 1
                }
                for mode in args.exchange
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    result = {
        "command": " ".join(["python", "benchmarks/bench_distributed.py", *sys.argv[1:]]),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
        },
        "backend": "gloo on 127.0.0.1; nccl not measured (no CUDA device here)",
        "rounds": args.rounds,
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
