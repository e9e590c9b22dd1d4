"""The torch.distributed backend: one run across processes (and machines), each hosting a shard of the slots.

Every process builds the same trainer state from the same config and seed (the frozen model, the task, the
slotted bases) and keeps a copy of every member's stacked blocks ``{layer: [M, out, S]}`` and Adam moments
(they are small: the adapter, not the model). Process ``rank`` hosts the fixed contiguous shard
``slots(rank)`` of the adapter's ``max_devices`` slots and trains, vectorised, the members whose slot is in
it: a join opens a slot and so a row in the process hosting that slot, a leave drops one; nothing restarts.

A round, in every process:

* the schedule: each process runs the correction's ``schedule`` hook (so that the correction's own state
  evolves the same everywhere), and the round uses rank 0's, broadcast to all (``agree``): the channel draw
  and the allocation solve of rank 0 are the ones every process follows;
* the local steps of its rows, each row on the very batch it gets in a one-process run (the batch draw is
  over all members, the shard takes its rows);
* one ``all_gather`` of the rows it trained — blocks, Adam moments and first-step losses, packed
  ``[rows, Σ out·S + moments + 1]`` float32, padded to the largest shard — after which every process holds
  every row; the gossip (B ← W(γ) B) is then the in-process contraction, done in each process.
  Bytes per process per round: (P − 1) · R_max · F · 4 received (and as many sent), F the packed width.
* with ``distributed.exchange: p2p`` the rounds that need no row everywhere (*lean*: not a replicating round,
  ``set_exchange``) replace the all_gather by send/recv: every rank sends rank 0 its trained blocks and
  losses, and before each group's mix each rank gets only the rows its own rows mix with
  (:mod:`wirelora.distributed.p2p`); a rank other than 0 then holds the others' rows stale, which its own
  rows weigh by exactly 0;
* rank 0 alone evaluates, records the History and writes the run directory and checkpoints; a resumed
  run's checkpoint is read by rank 0 and broadcast (only rank 0's machine needs the run directory).

Corrections run unchanged in every process on the replicated state: their probes (gradients of all
devices, Fisher, influence, calibration steps) read the replicated rows and cost no bytes; the gossip
payload they schedule is the same ``all_gather``.

Faults: every collective and every send/recv wait runs under ``distributed.timeout_s``; each process also
beats a counter in the rendezvous store (``wirelora/beat/<rank>``, every 0.25 s, from a thread). When a
collective or a send/recv fails (a peer's connection closed, or the timeout passed), the process reads the
counters twice and names the ranks whose beat stopped (rank 0 when the store itself, which rank 0 hosts, is
gone) in a :class:`DistributedError`.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wirelora.distributed.backend import mix_blocks, sent_bits
from wirelora.distributed.p2p import edge_rows, send_recv
from wirelora.errors import DistributedError

__all__ = ["ProcessGroupBackend", "slot_shards", "BOOTSTRAP_TIMEOUT_S"]

BEAT_S = 0.25  # heartbeat period of each process in the store
BOOTSTRAP_TIMEOUT_S = 60.0  # start-up: all ranks must join (and rank 0 send the config) within this
_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def slot_shards(num_slots: int, world_size: int) -> list[range]:
    """The contiguous slot ranges of the ranks: ``num_slots`` split as evenly as possible, in rank order."""
    bounds = np.linspace(0, num_slots, world_size + 1)
    edges = [int(round(b)) for b in bounds]
    return [range(edges[p], edges[p + 1]) for p in range(world_size)]


class ProcessGroupBackend:
    """One process of a gloo (CPU) or nccl (CUDA) process group, from the torchrun environment variables
    (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT). :meth:`set_timeout` switches the collectives of the run
    to ``distributed.timeout_s`` once the config is known; :meth:`close` leaves the group."""

    def __init__(self, *, bootstrap_timeout_s: float = BOOTSTRAP_TIMEOUT_S, device: str = "cpu"):
        import torch.distributed as dist

        missing = [k for k in _ENV if k not in os.environ]
        if missing:
            raise DistributedError(
                f"--backend dist: environment variable {missing[0]} is not set (start the processes with "
                "torchrun, or give --nproc N)"
            )
        self.rank = int(os.environ["RANK"])
        self.world_size = int(os.environ["WORLD_SIZE"])
        self._addr, self._port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
        self.is_writer = self.rank == 0
        self.round = -1
        self.bytes_sent = 0  # logical payload of the collectives, this process, cumulative
        self.bytes_received = 0
        self.timeout_s = float(bootstrap_timeout_s)
        self._nccl = device == "cuda"
        self._device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if self._nccl else None
        try:
            dist.init_process_group(
                "nccl" if self._nccl else "gloo",
                init_method="env://",
                timeout=timedelta(seconds=self.timeout_s),
                rank=self.rank,
                world_size=self.world_size,
            )
        except Exception as exc:  # noqa: BLE001 - any rendezvous failure is one line
            raise DistributedError(
                f"rank {self.rank}: the {self.world_size} processes did not all join at "
                f"{self._addr}:{self._port} within {self.timeout_s:g} s ({_short(exc)})"
            ) from None
        self._group = None  # the run's group (set_timeout); None = the default group
        self.exchange_mode = "all_gather"
        self._replicated = None  # p2p: state -> the rounds after which every process holds every row
        self._full_rounds: set[int] | None = None
        self.lean_rows: list[list[int]] | None = None  # this round's rows per rank when it is lean (p2p)
        self._stop = threading.Event()
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._beat = threading.Thread(target=self._beats, name="wirelora-beat", daemon=True)
        self._beat.start()

    # ------------------------------------------------------------------------------------- life cycle
    def set_timeout(self, timeout_s: float) -> None:
        """From now on a collective waits at most ``timeout_s`` (a fresh group with that timeout)."""
        import torch.distributed as dist

        self.timeout_s = float(timeout_s)
        self._group = self._guard(
            "start", lambda: dist.new_group(backend=dist.get_backend(), timeout=timedelta(seconds=timeout_s))
        )

    def set_exchange(self, mode: str, replicated=None) -> None:
        """``distributed.exchange``. p2p: ``replicated(state)`` gives the rounds at whose end every process
        must hold every row (the others are lean: see :meth:`local_steps`); None = every round."""
        self.exchange_mode, self._replicated, self._full_rounds = mode, replicated, None

    def _lean(self, state: Any, round_index: int) -> bool:
        if self.exchange_mode != "p2p" or self.world_size == 1:
            return False
        if self._full_rounds is None:
            rounds = range(state.config.trainer.rounds)
            self._full_rounds = set(rounds if self._replicated is None else self._replicated(state))
        return round_index not in self._full_rounds

    def close(self) -> None:
        import torch.distributed as dist

        self._stop.set()
        self._beat.join(timeout=2 * BEAT_S + 1.0)  # a store call in flight at interpreter exit aborts
        if self._tmp is not None:
            self._tmp.cleanup()
        if dist.is_initialized():
            dist.destroy_process_group()

    def _store(self, timeout_s: float):
        import torch.distributed as dist

        return dist.TCPStore(self._addr, self._port, is_master=False, timeout=timedelta(seconds=timeout_s))

    def _beats(self) -> None:
        try:
            store = self._store(self.timeout_s)
            n = 0
            while not self._stop.is_set():
                n += 1
                store.set(f"wirelora/beat/{self.rank}", f"{n} {self.round}")
                self._stop.wait(BEAT_S)
        except Exception:  # noqa: BLE001 - the store (rank 0) is gone: the main thread reports it
            return

    def _stopped_ranks(self) -> list[int]:
        """The other ranks whose beat did not move over a few periods (all of them unknown: rank 0)."""
        others = [p for p in range(self.world_size) if p != self.rank]
        try:
            store = self._store(min(self.timeout_s, 1.0))

            def read() -> dict[int, bytes | None]:
                keys = {p: f"wirelora/beat/{p}" for p in others}
                return {p: (store.get(k) if store.check([k]) else None) for p, k in keys.items()}

            first = read()
            time.sleep(4 * BEAT_S)
            second = read()
        except Exception:  # noqa: BLE001 - the store lives in rank 0: it is the one gone
            return [0] if self.rank != 0 else []
        return [p for p in others if first[p] is None or first[p] == second[p]]

    def _guard(self, what: str, fn):
        """Run a collective; any failure of it becomes one DistributedError naming the stopped rank(s)."""
        try:
            return fn()
        except DistributedError:
            raise
        except Exception as exc:  # noqa: BLE001 - gloo/nccl raise RuntimeError subclasses of many kinds
            stopped = self._stopped_ranks()
            where = f"round {self.round}" if self.round >= 0 else "start-up"
            if stopped:
                who = ("rank " if len(stopped) == 1 else "ranks ") + ", ".join(map(str, stopped))
                raise DistributedError(
                    f"{where}: {who} stopped (dead, or no {what} within distributed.timeout_s="
                    f"{self.timeout_s:g} s); rank {self.rank} stops too"
                ) from None
            raise DistributedError(
                f"{where}: the {what} failed on rank {self.rank} ({_short(exc)})"
            ) from None

    # ------------------------------------------------------------------------------------ collectives
    def broadcast(self, obj: Any, what: str = "broadcast") -> Any:
        """Rank 0's ``obj`` in every process (pickled; the writer's own objects only)."""
        import torch.distributed as dist

        box = [obj if self.rank == 0 else None]
        self._guard(what, lambda: dist.broadcast_object_list(box, src=0, group=self._group))
        size = len(pickle.dumps(box[0]))
        if self.rank == 0:
            self.bytes_sent += size * (self.world_size - 1)
        else:
            self.bytes_received += size
        return box[0]

    def agree(self, schedule: Any, round_index: int) -> Any:
        self.round = int(round_index)
        return self.broadcast(schedule, "schedule")

    def resume_from(self, path: Path | None) -> Path | None:
        data = path.read_bytes() if self.rank == 0 and path is not None and path.is_file() else None
        if self.rank == 0 and path is not None and path.exists() and not path.is_file():
            data = b""  # not a file: load_checkpoint names it on rank 0; the others stop at the next round
        data = self.broadcast(data, "checkpoint")
        if data is None:
            return None
        if self.rank == 0:
            return path
        self._tmp = self._tmp or tempfile.TemporaryDirectory(prefix="wirelora-rank-")
        local = Path(self._tmp.name) / (path.name if path is not None else "checkpoint.safetensors")
        local.write_bytes(data)
        return local

    def _all_gather(self, mine: torch.Tensor, rows_max: int) -> list[torch.Tensor]:
        import torch.distributed as dist

        width = mine.shape[1]
        buf = torch.zeros(rows_max, width, dtype=mine.dtype)
        buf[: mine.shape[0]] = mine
        if self._device is not None:
            buf = buf.to(self._device)
        out = [torch.empty_like(buf) for _ in range(self.world_size)]
        self._guard("exchange", lambda: dist.all_gather(out, buf, group=self._group))
        nbytes = buf.numel() * buf.element_size() * (self.world_size - 1)
        self.bytes_sent += nbytes
        self.bytes_received += nbytes
        return [t.cpu() for t in out]

    # ---------------------------------------------------------------------------------- the round
    def hosts(self, state: Any) -> list[int]:
        """The rank hosting each member (row order): the rank whose slot shard holds the member's slot."""
        shards = slot_shards(state.adapter.max_devices, self.world_size)
        owner = {s: p for p, shard in enumerate(shards) for s in shard}
        return [owner[state.adapter.slot_of(d)] for d in state.members]

    def local_steps(self, state: Any, schedule: Any, round_index: int, correction: Any) -> float:
        """This process's rows take their local steps; then every process gets every row (blocks, moments,
        first-step losses) in one all_gather. Returns the mean first-step loss over all members."""
        members = list(state.members)
        hosts = self.hosts(state)
        rows = [[i for i, h in enumerate(hosts) if h == p] for p in range(self.world_size)]
        mine = rows[self.rank]
        loss = state.local_step_losses(
            schedule, round_index, correction, rows=mine, drawn=list(range(len(members)))
        )
        if not members:
            return float("nan")
        lean = self._lean(state, round_index)
        self.lean_rows = rows if lean else None
        fields = _fields(state, moments=not lean)
        dtype = fields[0][2].dtype  # float32: blocks, moments and losses share it, so packing is exact
        idx = torch.as_tensor(mine, dtype=torch.long, device=state.device)
        parts = [t[idx].reshape(len(mine), -1).to(dtype) for _, _, t in fields]
        first = torch.full((len(mine), 1), float("nan"), dtype=dtype) if loss is None else loss.reshape(-1, 1)
        packed = torch.cat([p.cpu() for p in parts] + [first.to(dtype).cpu()], dim=1)  # [rows, F]
        full = torch.empty(len(members), packed.shape[1], dtype=dtype)
        if lean:  # the others' trained rows to rank 0 only (it records every member); no moments
            got = self._to_rank0(packed, rows)
            if self.rank != 0:
                return float("nan")  # only rank 0 records the round's loss
        else:
            got = self._all_gather(packed, max(len(r) for r in rows))
        for p, rp in enumerate(rows):
            if rp:
                full[torch.as_tensor(rp)] = got[p][: len(rp)]
        at = 0
        for kind, name, t in fields:
            width = t[0].numel()
            value = full[:, at : at + width].reshape(t.shape).to(dtype=t.dtype, device=state.device)
            if kind == "blocks":
                state.blocks[name] = value
            else:
                layer, key = name
                state.opt[layer][key] = value
            at += width
        return float(full[:, -1].contiguous().mean())

    def _to_rank0(self, packed: torch.Tensor, rows: list[list[int]]) -> list[torch.Tensor]:
        """Lean round: every rank sends rank 0 its packed rows; rank 0 gets them all (rank order)."""
        width = packed.shape[1]
        got = [
            packed if p == self.rank else torch.empty(len(rp), width, dtype=packed.dtype)
            for p, rp in enumerate(rows)
        ]
        sends = {0: packed} if self.rank != 0 else {}
        recvs = {p: got[p] for p in range(1, self.world_size)} if self.rank == 0 else {}
        self._send_recv(sends, recvs, tag=1)
        return got

    def _send_recv(self, sends, recvs, *, tag: int) -> None:
        sent, received = self._guard(
            "exchange",
            lambda: send_recv(sends, recvs, tag=tag, timeout_s=self.timeout_s, group=self._group),
        )
        self.bytes_sent += sent
        self.bytes_received += received

    def exchange(self, blocks, mixing: np.ndarray) -> dict[str, object]:
        """The mix, in-process. After a replicating round every process holds every row already; in a lean
        one each rank first gets from each other the rows its own rows mix with (the edges that cross)."""
        rows = self.lean_rows
        if rows is not None and blocks:
            names = list(blocks)
            m = blocks[names[0]].shape[0]
            flat = torch.cat([blocks[n].reshape(m, -1) for n in names], dim=1).cpu()  # [M, Σ out·S]
            peers = [p for p in range(self.world_size) if p != self.rank]
            out = {q: edge_rows(rows, mixing, self.rank, q) for q in peers}
            into = {p: edge_rows(rows, mixing, p, self.rank) for p in peers}
            recvs = {p: torch.empty(len(r), flat.shape[1], dtype=flat.dtype) for p, r in into.items()}
            self._send_recv(
                {q: flat[torch.as_tensor(r, dtype=torch.long)] for q, r in out.items() if r},
                {p: t for p, t in recvs.items() if len(into[p])},
                tag=2,
            )
            for p, r in into.items():
                if r:
                    flat[torch.as_tensor(r, dtype=torch.long)] = recvs[p]
            sizes = [blocks[n][0].numel() for n in names]
            device = blocks[names[0]].device
            blocks = {
                n: part.reshape(blocks[n].shape).to(device)
                for n, part in zip(names, torch.split(flat, sizes, dim=1))
            }
        return mix_blocks(blocks, mixing)

    def sent_bits(self, adjacency: np.ndarray, payload_bits: int) -> int:
        return sent_bits(adjacency, payload_bits)


def _fields(state: Any, moments: bool = True) -> list[tuple[str, Any, torch.Tensor]]:
    """What a process shares of its rows: every layer's blocks, then (Adam, ``moments``) every layer's
    moments."""
    out = [("blocks", n, state.blocks[n]) for n in state.layer_names]
    if moments and state.config.trainer.optimizer == "adam":
        out += [("opt", (n, k), state.opt[n][k]) for n in state.layer_names for k in sorted(state.opt[n])]
    return out


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
