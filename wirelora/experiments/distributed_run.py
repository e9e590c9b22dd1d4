"""``wirelora run|resume ... --backend dist``: one run across processes (:mod:`wirelora.distributed
.process_group`).

Two ways to start the processes:

* ``--nproc N`` (one machine): this process starts N copies of the same command on 127.0.0.1 (a free port,
  the torchrun environment variables RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), waits for them
  and exits with their status; rank 0's output is shown, and a failure is the one line of the first process
  that names it (rank 0's, else the lowest surviving rank's).
* without ``--nproc``: this process *is* one rank, from the environment variables (torchrun sets them:
  ``torchrun --nnodes M --nproc-per-node N --rdzv-backend c10d --rdzv-endpoint HOST:PORT -m wirelora run
  CONFIG --backend dist``).

Rank 0 resolves the config (``CONFIG`` and ``--set``, or the run directory's ``config.json`` on resume),
claims the run directory and sends the config to the other ranks, so only rank 0's machine needs the config
file and the run directory; every machine needs the same wirelora install and model files. Rank 0 alone
writes the run directory (history.json, metrics.jsonl, checkpoint.safetensors, summary.png, adapter/).
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wirelora.config import ConfigError, from_dict
from wirelora.distributed.config import DistributedConfig
from wirelora.errors import DistributedError
from wirelora.experiments.rundir import RESOLVED_FILE, claim
from wirelora.experiments.runner import (
    _preflight,
    _summary_line,
    load_raw_config,
    load_run_config,
    run_and_summarise,
)

__all__ = ["cli_run", "cli_resume", "launch", "configure", "replicated_rounds"]

LAUNCH_GRACE_S = 5.0  # after a rank failed, the others get timeout_s + this long to stop on their own
AFTER_WRITER_S = 5.0  # ... and this long once rank 0 has exited


def cli_run(args) -> int:
    if args.nproc is not None:  # the launcher only reads the file (no torch here); rank 0 checks it
        raw = load_raw_config(args.config, list(args.overrides), args.seed)
        out = Path(args.out) if args.out else Path("runs") / str(raw["name"])
        command = ["run", args.config, *[a for o in args.overrides for a in ("--set", o)], "--out", str(out)]
        command += [*(["--seed", str(args.seed)] if args.seed is not None else [])]
        command += [*(["--no-progress"] if args.no_progress else []), *(["--force"] if args.force else [])]
        command += _passed_on(args)
        return launch([*command, "--backend", "dist"], args.nproc, _timeout_s(raw))

    def prepare():
        from wirelora.config import to_jsonable

        config = load_run_config(args.config, list(args.overrides), args.seed)
        _preflight(config)
        out = Path(args.out) if args.out else Path("runs") / config.name
        return config, out, json.loads(json.dumps(to_jsonable(config))), args.force

    return _rank("run", prepare, progress=not args.no_progress, tensorboard=args.tensorboard)


def cli_resume(args) -> int:
    out = Path(args.dir)
    if not (out / RESOLVED_FILE).is_file():
        raise ConfigError(f"run directory {str(out)!r}: no {RESOLVED_FILE} (not a wirelora run directory)")
    if args.nproc is not None:
        command = ["resume", str(out), *(["--no-progress"] if args.no_progress else []), "--backend", "dist"]
        command += _passed_on(args)
        return launch(command, args.nproc, _timeout_s(json.loads((out / RESOLVED_FILE).read_text())))
    prepare = lambda: (_stored_config(out), out, None, False)  # noqa: E731
    return _rank("resume", prepare, progress=not args.no_progress, tensorboard=args.tensorboard)


def _passed_on(args) -> list[str]:
    """The launcher's --tensorboard / --quiet / --verbose, for each rank it starts (rank 0 uses them)."""
    flags = ["--tensorboard", str(args.tensorboard)] if args.tensorboard else []
    return flags + (["--quiet"] if args.quiet else []) + ["--verbose"] * int(args.verbose)


def _stored_config(out: Path):
    """The config stored in a run directory (rank 0 claims it when it runs; this only reads it)."""
    from wirelora.learning.config import RunConfig

    return from_dict(RunConfig, json.loads((out / RESOLVED_FILE).read_text()), prefix="")


def _timeout_s(raw: dict) -> float:
    """distributed.timeout_s of a raw config (rank 0 checks it; the launcher only waits that long)."""
    value = (raw.get("distributed") or {}).get("timeout_s", DistributedConfig.timeout_s)
    return float(value) if isinstance(value, int | float) and value > 0 else DistributedConfig.timeout_s


def configure(backend, config) -> None:
    """The run's ``distributed`` section on a rank: the collectives' timeout and the exchange."""
    backend.set_timeout(config.distributed.timeout_s)
    backend.set_exchange(config.distributed.exchange, lambda state: replicated_rounds(config, state))


def replicated_rounds(config, state) -> set[int]:
    """The rounds at whose end every process must hold every row (p2p): every round with a correction
    (its hooks read every row in every process), the round before each event (the event changes every
    copy), the checkpoint rounds and the last one (rank 0 writes all moments)."""
    from wirelora.learning.events import sample_events, timeline

    tc = config.trainer
    if config.correction is not None:
        return set(range(tc.rounds))
    events = list(config.events) or sample_events(
        config.churn, state.task.initial, state.task.devices, tc.rounds, seed=state.seed
    )
    rounds = {e.round - 1 for e in timeline(events, state.task.initial, state.task.devices, tc.rounds)}
    if tc.checkpoint_every:
        rounds |= {r for r in range(tc.rounds) if (r + 1) % tc.checkpoint_every == 0}
    return {r for r in rounds if r >= 0} | {tc.rounds - 1}


def _rank(command: str, prepare, *, progress: bool, tensorboard: str | None) -> int:
    """This process as one rank: rank 0 prepares (config, run directory) and sends the config; all run."""
    from wirelora.distributed.process_group import ProcessGroupBackend
    from wirelora.learning.loop import run

    backend = ProcessGroupBackend()
    try:
        if not backend.is_writer:
            status, config = backend.broadcast(None, "config")
            if status != "ok":
                raise DistributedError(f"start-up: rank 0 stopped before round 0 ({config})")
            configure(backend, config)
            run(config, out_dir=None, resume=True, backend=backend)
            return 0
        sent = False
        try:
            config, out, resolved, force = prepare()
            with claim(out, resolved, force=force):
                backend.broadcast(("ok", config), "config")
                sent = True
                configure(backend, config)
                history = run_and_summarise(
                    config, out, backend=backend, progress=progress, tensorboard=tensorboard
                )
        except BaseException as exc:
            if not sent and not isinstance(exc, DistributedError):  # the others still wait for the config
                backend.broadcast(("error", " ".join(str(exc).split()) or type(exc).__name__), "config")
            raise
        print(f"wirelora {command}: {_summary_line(history, out)} ({backend.world_size} processes)")
        return 0
    finally:
        backend.close()


# ------------------------------------------------------------------------------------------------ launch
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(command: list[str], nproc: int, timeout_s: float) -> int:
    """Start ``python -m wirelora COMMAND`` as ``nproc`` ranks on 127.0.0.1 and wait for them all."""
    if not isinstance(nproc, int) or nproc < 1:
        raise ConfigError(f"--nproc={nproc!r}: must be an integer >= 1")
    port = _free_port()
    procs, logs = [], []
    try:
        for rank in range(nproc):
            env = {
                **os.environ,
                "RANK": str(rank),
                "LOCAL_RANK": str(rank),
                "WORLD_SIZE": str(nproc),
                "LOCAL_WORLD_SIZE": str(nproc),
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(port),
            }
            log = None if rank == 0 else tempfile.TemporaryFile(mode="w+b")  # rank 0 writes to the terminal
            logs.append(log)
            procs.append(subprocess.Popen([sys.executable, "-m", "wirelora", *command], env=env, stderr=log))
        codes = _wait(procs, timeout_s + LAUNCH_GRACE_S)
        return _report(command[0], codes, logs)
    except BaseException:
        for p in procs:
            if p.poll() is None:
                p.kill()
        raise
    finally:
        for log in logs:
            if log is not None:
                log.close()


def _wait(procs: list[subprocess.Popen], grace_s: float) -> list[int]:
    """Every process's exit status; once one failed, the rest are killed if still running after grace_s
    (they stop by themselves within distributed.timeout_s), or AFTER_WRITER_S after rank 0 is gone (the
    others' next exchange fails at once then; one still running is stalled)."""
    deadline = None
    while any(p.poll() is None for p in procs):
        if any(p.returncode not in (None, 0) for p in procs):
            now = time.monotonic()
            if procs[0].returncode is not None:
                deadline = min(deadline or math.inf, now + AFTER_WRITER_S)
            deadline = deadline or now + grace_s
        if deadline is not None and time.monotonic() > deadline:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        time.sleep(0.05)
    return [p.wait() for p in procs]


def _report(command: str, codes: list[int], logs) -> int:
    """0 when every rank succeeded; else one line (rank 0 printed its own) and a nonzero status."""
    if all(c == 0 for c in codes):
        return 0
    if codes[0] > 0:  # rank 0 ran to an error and said so on the terminal
        return codes[0]
    for rank, (code, log) in enumerate(zip(codes, logs)):
        if rank == 0 or code == 0 or log is None:
            continue
        log.seek(0)
        lines = [ln for ln in log.read().decode(errors="replace").splitlines() if ln.startswith("wirelora")]
        if lines and code > 0:
            print(lines[-1], file=sys.stderr)
            return code
    rank = next(r for r, c in enumerate(codes) if c != 0)
    how = f"was killed by {signal.Signals(-codes[rank]).name}" if codes[rank] < 0 else f"exited {codes[rank]}"
    print(f"wirelora {command}: error: rank {rank} {how}", file=sys.stderr)
    return 1
