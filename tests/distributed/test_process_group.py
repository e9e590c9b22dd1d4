"""``--backend dist``: the History of a run across 1, 2 and 3 processes on 127.0.0.1 equals the in-process
one (a leave and a join in the run); a SIGKILLed rank stops the other within distributed.timeout_s with one
line naming it and the round, and ``wirelora resume`` on another number of processes (one) ends with the
same History. Each process imports torch and peft (seconds of CPU): the tests start as few as they can."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from tiny_runs import tiny_run_raw

from wirelora.cli import build_parser
from wirelora.distributed.process_group import slot_shards
from wirelora.experiments import distributed_run
from wirelora.experiments.runner import load_run_config, start_run

TIMEOUT_S = 5
TIMING = {"wall_time_s", "solve_time_s", "elapsed_s", "time_s_wall", "provenance"}
RAW = tiny_run_raw(
    **{
        "trainer.rounds": 24,
        "trainer.checkpoint_every": 4,
        "trainer.threads": 1,
        "events": [{"round": 5, "leave": ["d1"]}, {"round": 11, "join": ["d4"]}],
        "distributed": {"timeout_s": TIMEOUT_S},
    }
)


def _env(**extra):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    return env


def _cli(*args):
    cmd = [sys.executable, "-m", "wirelora", *args]
    return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)


def _diffs(a, b, path="", tol=1e-6) -> list[str]:
    """Leaves of two History trees that differ by more than tol (relative above 1), timing fields aside."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b) - TIMING)
        return [d for k in keys if k not in TIMING for d in _diffs(a.get(k), b.get(k), f"{path}.{k}", tol)]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _diffs(x, y, f"{path}[{i}]", tol)]
    if isinstance(a, float) and isinstance(b, float):
        same = a == b or (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol * max(1.0, abs(a))
        return [] if same else [f"{path}: {a!r} != {b!r}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def _history(out: Path) -> dict:
    h = json.loads((out / "history.json").read_text())
    return {"rounds": h["rounds"], "meta": h["meta"]}


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """The config file and the in-process History of it."""
    root = tmp_path_factory.mktemp("dist")
    config = root / "run.yaml"
    config.write_text(yaml.safe_dump(RAW))
    start_run(load_run_config(config), root / "inprocess")  # here: the processes below are the cost
    return config, _history(root / "inprocess")


def test_slot_shards_are_contiguous_and_cover():
    for slots, ranks in ((5, 2), (5, 3), (6, 4), (2, 3), (128, 4)):
        shards = slot_shards(slots, ranks)
        assert len(shards) == ranks
        assert [s for sh in shards for s in sh] == list(range(slots))
        assert max(map(len, shards)) - min(map(len, shards)) <= 1


def _here(monkeypatch, *argv) -> int:
    """``wirelora ARGV --backend dist`` as the one rank of a group in this process (no imports to pay)."""
    for key, value in {"RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MASTER_PORT", str(_port()))
    args = build_parser().parse_args([*argv, "--no-progress", "--backend", "dist"])
    return getattr(distributed_run, f"cli_{args.command}")(args)


@pytest.mark.parametrize(
    "nproc, exchange", [(1, "all_gather"), (2, "all_gather"), (3, "all_gather"), (2, "p2p"), (3, "p2p")]
)
def test_same_history_on_any_number_of_processes(case, tmp_path, monkeypatch, capsys, nproc, exchange):
    config, reference = case
    out = tmp_path / "run"
    if exchange != "all_gather":
        raw = yaml.safe_load(config.read_text())
        raw["distributed"]["exchange"] = exchange
        config = tmp_path / "run.yaml"
        config.write_text(yaml.safe_dump(raw))
    if nproc == 1:
        assert _here(monkeypatch, "run", str(config), "--out", str(out)) == 0
        assert "(1 processes)" in capsys.readouterr().out
    else:
        tb = tmp_path / "tb"  # the launcher passes --tensorboard on; rank 0, the writer, writes one log
        argv = ["run", str(config), f"--out={out}", "--no-progress", "--backend=dist", f"--nproc={nproc}"]
        done = _cli(*argv, f"--tensorboard={tb}")
        assert done.returncode == 0, done.stderr
        assert f"({nproc} processes)" in done.stdout
        assert len(list(tb.glob("events.out.tfevents.*"))) == 1
    events = [r["event"] for r in reference["rounds"] if r["event"]]
    assert events == [{"leave": ["d1"], "join": []}, {"leave": [], "join": ["d4"]}]
    assert _diffs(reference, _history(out)) == []
    assert (out / "adapter").is_dir() and (out / "checkpoint.safetensors").is_file()


def test_killed_rank_stops_the_other_and_resume_ends_the_same(case, tmp_path, monkeypatch):
    config, reference = case
    out = tmp_path / "run"
    env = {"WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_port())}
    cmd = [sys.executable, "-m", "wirelora", "run", str(config), "--out", str(out), "--quiet"]
    procs = [
        subprocess.Popen(
            [*cmd, "--backend", "dist"],
            env=_env(RANK=str(rank), LOCAL_RANK=str(rank), **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    metrics = out / "metrics.jsonl"
    deadline = time.monotonic() + 90
    while not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 6):
        assert procs[0].poll() is None and time.monotonic() < deadline, procs[0].communicate()
        time.sleep(0.01)
    os.kill(procs[1].pid, signal.SIGKILL)
    killed = time.monotonic()
    _, err = procs[0].communicate(timeout=TIMEOUT_S + 20)
    stopped_after_s = time.monotonic() - killed
    procs[1].wait()
    lines = err.strip().splitlines()
    assert procs[0].returncode == 1
    assert len(lines) == 1, err
    assert "rank 1 stopped" in lines[0] and "round " in lines[0], lines[0]
    assert stopped_after_s < TIMEOUT_S + 5
    done_rounds = len(_history(out)["rounds"])
    assert 0 < done_rounds < RAW["trainer"]["rounds"]  # the checkpointed History, not the whole run

    assert _here(monkeypatch, "resume", str(out)) == 0  # on one process (this one)
    assert _diffs(reference, _history(out)) == []


P2P_WORKER = """
import json, sys, numpy as np, torch
from wirelora.distributed.backend import mix_blocks
from wirelora.distributed.process_group import ProcessGroupBackend
b = ProcessGroupBackend()
b.set_timeout(5)
b.set_exchange("p2p")
w = np.array([[.5, .5, 0, 0], [.5, .25, .25, 0], [0, .25, .25, .5], [0, 0, .5, .5]])  # the path 0-1-2-3
true = torch.arange(4 * 2 * 3, dtype=torch.float32).reshape(4, 2, 3)  # 4 rows of [out=2, S=3]
mine = [0, 1] if b.rank == 0 else [2, 3]
held = true.clone() if b.rank == 0 else torch.full_like(true, 99.0)  # rank 1: rows 0, 1 stale
held[mine] = true[mine]
b.lean_rows = [[0, 1], [2, 3]]
mixed = b.exchange({"a": held}, w)["a"]
same = bool(torch.equal(mixed[mine], mix_blocks({"a": true}, w)["a"][mine]))
print(json.dumps({"rank": b.rank, "sent": b.bytes_sent, "received": b.bytes_received, "same": same}))
b.close()
"""


def test_p2p_exchange_sends_the_crossing_edges_rows_only():
    """Rows 0, 1 on rank 0 and 2, 3 on rank 1, the path 0-1-2-3: the one crossing edge 1-2 makes rank 0
    send row 1 (out · S = 6 float32 = 24 bytes) to rank 1; rank 0 holds every row in a lean round, so it
    receives nothing. Each rank's own mixed rows equal the in-process mix."""
    env = _env(WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_port()))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", P2P_WORKER],
            env={**env, "RANK": str(rank)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    got = sorted((json.loads(o.strip().splitlines()[-1]) for o, _ in outs), key=lambda d: d["rank"])
    assert got == [
        {"rank": 0, "sent": 24, "received": 0, "same": True},
        {"rank": 1, "sent": 0, "received": 24, "same": True},
    ]


P2P_DEAD_PEER = """
import os, sys, time, numpy as np, torch
from wirelora.distributed.process_group import ProcessGroupBackend
from wirelora.errors import DistributedError
b = ProcessGroupBackend()
b.set_timeout(float(sys.argv[1]))
b.set_exchange("p2p")
if b.rank == 0:
    os._exit(0)  # dies before the round's sends
b.round, b.lean_rows = 3, [[0, 1], [2, 3]]
w = np.array([[.5, .5, 0, 0], [.5, .25, .25, 0], [0, .25, .25, .5], [0, 0, .5, .5]])
t0 = time.monotonic()
try:
    b.exchange({"a": torch.zeros(4, 2, 3)}, w)
except DistributedError as exc:
    print(f"{time.monotonic() - t0:.2f} {exc}")
"""


def test_p2p_dead_peer_is_one_error_naming_rank_and_round():
    """Rank 1 waits on rank 0's edge rows (gloo's recv blocks); rank 0 is dead: rank 1 stops within
    distributed.timeout_s with the error naming rank 0 and the round."""
    env = _env(WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_port()))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", P2P_DEAD_PEER, str(TIMEOUT_S)],
            env={**env, "RANK": str(rank)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    out, err = procs[1].communicate(timeout=120)
    procs[0].wait(timeout=30)
    waited_s, message = out.strip().split(" ", 1)
    assert float(waited_s) < TIMEOUT_S + 3, out
    assert message.startswith("round 3: rank 0 stopped"), message


def test_bad_exchange_is_one_line():
    from wirelora.config import ConfigError
    from wirelora.distributed.config import DistributedConfig

    with pytest.raises(ConfigError, match=r"^distributed.exchange='ring': must be one of all_gather, p2p$"):
        DistributedConfig(exchange="ring")


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bad_launch_is_one_line(capsys):
    from wirelora.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["run", "leave-only-mlp", "--nproc", "2"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip() == "wirelora run: error: --nproc=2 needs --backend dist"
    env = {k: v for k, v in _env().items() if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    done = subprocess.run(
        [sys.executable, "-m", "wirelora", "run", "leave-only-mlp", "--backend", "dist"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "wirelora run: error: --backend dist: environment variable RANK is not set (start the processes with "
        "torchrun, or give --nproc N)"
    ]
