"""The decentralized LoRA trainer: one round loop, vectorised over devices (METHOD.md §3).

``run(config, *, seed) -> History`` reads top to bottom, once per round k:

    event (leave: project the leaver out of every copy; join: new slot, warm start) → correction.on_event
    → schedule (per layer group g: n_g, η_g, λ_g, γ_g, H_g, graph)
    → n_g local steps per group, every device at once, each on its own data and only its own block (block
      ownership), with the proximal term (λ_g/2)‖B − B_anchor‖²
    → per group on sync rounds (k mod H_g = 0): exchange over the group's graph, mix with W(γ_g) → record

State: per adapted layer the stacked copies ``B : [M, out, S]`` (row m = the m-th member in member order:
stayers first, joiners appended), all sharing the frozen bases A : [in, S] of :class:`OrthogonalLoRA`. A
local step folds the M devices' batches into one model call (:mod:`wirelora.learning.stacked`), so one
backward pass gives every device's gradient; ``ownership="block"`` masks it to the device's own slot columns
([M, 1, S]). ``vectorised=False`` runs each device's model separately through peft's own LoRA layers instead
(the reference; a test checks that both give the same History to 1e-5). The local optimizer is plain SGD
(B ← B − η g) or Adam with per-device moments that never leave the device (``trainer.optimizer``).

Extension points (for policies and baselines; see :class:`Correction` and :class:`TrainerState`):

- ``run(..., correction=obj)``; every member is optional:
  ``obj.project_on_leave`` (False = Naive Remove: the leaver's block stays in every copy);
  ``obj.on_event(state, event)``: called after the projection and the join warm start; may read data,
  compute gradients, edit ``state.blocks``, set ``state.anchor`` ({layer: [out, S]}, default: the post-event
  consensus) and ``state.prox_weight`` ({layer: [out, S] or [M, out, S]}, e.g. EWC's Fisher diagonal);
  ``obj.schedule(state, round) -> Schedule | None`` (None = the config's uniform schedule);
  ``obj.penalty(state, logits, batch) -> Tensor [M] | None``: an extra per-device loss; logits : [M, b, ...],
  ``state.base_logits(batch.x)`` gives the frozen base model's (e.g. for KD-Unlearn);
  ``obj.state_dict()`` / ``obj.load_state_dict(d)``: saved in / restored from checkpoints.
- ``TrainerState`` helpers: ``consensus()``, ``consensus_distance(group)``, ``local_gradients(point)`` (every
  device's gradient of its local loss, e.g. at the consensus), ``per_sample_gradients(group, ...)`` (for an
  empirical Fisher), ``evaluate(blocks)`` (retain/join/forget loss and accuracy of one model),
  ``logits(blocks, x)``, ``base_logits(x)``, ``ownership_mask(layer)``, ``data(devices, split)``, ``oracle``
  (``{"blocks", "eval"}``: the retrained model of the current event, when ``oracle.enabled``).
- ``Schedule.record``: extra numbers (latency_s, energy_j, edge_cost, ...) copied into the History round.
- ``backend``: the exchange step (:class:`wirelora.distributed.backend.Backend`).

Default schedule: the trainer config's n, η, λ, γ, H for every group, and per group a graph that is
``random`` (connected, of density ``density``, redrawn every round from (seed, round, group)), ``fixed``,
``complete`` or ``ring``. The prox anchor after an event is the post-event, post-projection consensus
(METHOD.md §3); before the first event there is no anchor (λ has no effect). Same seed → the same History
bit for bit on CPU, except ``wall_time_s``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from wirelora.config import (
    ConfigError,
    check_choice,
    check_nonnegative,
    check_positive,
    check_probability,
    require,
    to_dict,
)
from wirelora.distributed.backend import Backend, InProcessBackend, payload_bits
from wirelora.errors import DivergenceError
from wirelora.evaluation.history import History
from wirelora.learning.events import ChurnConfig, Event, members_at, sample_events, timeline
from wirelora.learning.schedule import GRAPH_KINDS, Schedule, edges_graph, uniform_schedule
from wirelora.learning.stacked import StackedLayer, StackedLoRA, fold, logits_of, row_accuracy, row_losses
from wirelora.learning.tasks import Task, TaskConfig, build_task, event_sets
from wirelora.network.topology import damped_mixing, metropolis_weights

__all__ = [
    "ModelConfig",
    "TrainerConfig",
    "OracleConfig",
    "RunConfig",
    "Correction",
    "Batch",
    "TrainerState",
    "run",
    "CHECKPOINT_FILE",
    "SETS",
]

CHECKPOINT_FILE = "checkpoint.pt"
SETS = ("retain", "join", "forget")
DEVICES = ("auto", "cpu", "cuda")
OWNERSHIP = ("block", "shared")


# ------------------------------------------------------------------------------------------------ configs
@dataclass(frozen=True)
class ModelConfig:
    """The frozen base model and its orthogonal-LoRA adapter (ranks / groups default to the model card's)."""

    name: str = "tiny-lm"
    basis: str = "slotted"
    ranks: dict[str, int] | None = None
    max_devices: int | None = None  # slots per layer; default: the task's device pool
    scaling: float = 1.0

    def __post_init__(self):
        require(
            isinstance(self.name, str) and bool(self.name), "model.name", self.name, "must be a model name"
        )
        check_choice("model.basis", self.basis, ("slotted", "independent"))
        if self.ranks is not None:
            for g, r in self.ranks.items():
                require(isinstance(r, int) and r >= 1, f"model.ranks.{g}", r, "must be an integer >= 1")
        if self.max_devices is not None:
            require(self.max_devices >= 1, "model.max_devices", self.max_devices, "must be >= 1")
        check_positive("model.scaling", self.scaling)


@dataclass(frozen=True)
class TrainerConfig:
    rounds: int = 100
    local_steps: int = 1
    step_size: float = 0.5
    prox: float = 0.0
    gamma: float = 0.4  # mixing damping W(γ) = (1 − γ) I + γ W
    density: float = 0.4  # edge density of the random per-group graphs
    sync_period: int = 1
    optimizer: str = (
        "adam"  # per-device local optimizer: sgd (B ← B − η g) or adam (moments stay on the device)
    )
    graph: str = "random"
    edges: tuple[tuple[str, str], ...] = ()  # graph: edges — device-name pairs, e.g. [[d0, d1], [d1, d2]]
    mixing_rule: str = "mh"
    batch_size: int = 16
    ownership: str = "block"
    join_warm_steps: int = 5
    bits_per_scalar: int = 32
    device: str = "auto"
    vectorised: bool = True
    eval_every: int = 1
    device_losses: bool = True  # per-device retain/join/forget losses in each evaluated round
    checkpoint_every: int = 20  # rounds; 0 = never (only with an output directory)
    max_loss: float = 1e4  # a local loss above this (or NaN) stops the run with DivergenceError
    threads: int = 0  # CPU: torch intra-op threads for the run (process-wide); 0 = leave torch's setting

    def __post_init__(self):
        for name in ("rounds", "local_steps", "sync_period", "batch_size", "eval_every", "bits_per_scalar"):
            v = getattr(self, name)
            require(isinstance(v, int) and v >= 1, f"trainer.{name}", v, "must be an integer >= 1")
        for name in ("join_warm_steps", "checkpoint_every", "threads"):
            v = getattr(self, name)
            require(isinstance(v, int) and v >= 0, f"trainer.{name}", v, "must be an integer >= 0")
        check_positive("trainer.step_size", self.step_size)
        check_nonnegative("trainer.prox", self.prox)
        check_probability("trainer.gamma", self.gamma)
        check_probability("trainer.density", self.density)
        check_choice("trainer.graph", self.graph, GRAPH_KINDS)
        check_choice("trainer.mixing_rule", self.mixing_rule, ("mh", "paper"))
        check_choice("trainer.ownership", self.ownership, OWNERSHIP)
        check_choice("trainer.optimizer", self.optimizer, ("sgd", "adam"))
        check_choice("trainer.device", self.device, DEVICES)
        check_positive("trainer.max_loss", self.max_loss)
        require(
            not (self.mixing_rule == "paper" and self.gamma == 1.0 and self.graph == "ring"),
            "trainer.gamma",
            self.gamma,
            "the paper's mixing rule on a ring needs gamma < 1 (rho = 1)",
        )


@dataclass(frozen=True)
class OracleConfig:
    """Retrain from scratch on the post-event members' data (same model, same slots), cached per event.

    The oracle trains like the run (same batch size, ownership, step size unless set) on a complete graph with
    exact averaging (γ = 1, Metropolis–Hastings), for ``rounds`` rounds of ``local_steps`` steps.
    """

    enabled: bool = False
    rounds: int = 200
    local_steps: int = 1
    step_size: float | None = None
    cache_dir: str | None = None  # default: <output dir>/oracle when the run has one, else no cache

    def __post_init__(self):
        require(
            isinstance(self.rounds, int) and self.rounds >= 1, "oracle.rounds", self.rounds, "must be >= 1"
        )
        require(
            isinstance(self.local_steps, int) and self.local_steps >= 1,
            "oracle.local_steps",
            self.local_steps,
            "must be >= 1",
        )
        if self.step_size is not None:
            check_positive("oracle.step_size", self.step_size)


@dataclass(frozen=True)
class RunConfig:
    """A whole run. ``correction`` and ``policy`` are free-form sections read by the correction layer."""

    name: str = "run"
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    events: tuple[Event, ...] = ()
    churn: ChurnConfig = field(default_factory=ChurnConfig)
    oracle: OracleConfig = field(default_factory=OracleConfig)
    correction: dict[str, Any] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        require(isinstance(self.seed, int) and self.seed >= 0, "seed", self.seed, "must be an integer >= 0")
        pool = [f"d{i}" for i in range(self.task.num_devices)]
        initial = pool[: self.task.initial_devices]
        # validates leave of a non-member, join of a member, an event past the last round, ...
        timeline(self.events, initial, pool, self.trainer.rounds)
        if self.churn.rate > 0 and self.events:
            raise ConfigError("churn.rate: give either an events list or a churn rate, not both")
        if self.trainer.graph == "edges":
            self._check_edges(pool, initial)
        else:
            require(
                not self.trainer.edges,
                "trainer.edges",
                list(self.trainer.edges),
                "needs trainer.graph: edges",
            )

    def _check_edges(self, pool: list[str], initial: list[str]) -> None:
        """The requested graph must connect the members in every round (events change who is there)."""
        from wirelora.network.topology import is_connected

        bad = [e for e in self.trainer.edges if len(e) != 2 or e[0] not in pool or e[1] not in pool]
        require(
            not bad, "trainer.edges", bad[0] if bad else None, f"pairs of task devices {pool[0]}..{pool[-1]}"
        )
        starts = [0, *sorted(e.round for e in self.events)]
        for r in starts:
            members = members_at(self.events, initial, r)
            if not is_connected(edges_graph(members, self.trainer.edges)):
                raise ConfigError(
                    f"trainer.edges: the graph over the members {members} (round {r}) is disconnected"
                )


# ------------------------------------------------------------------------------------------------ hooks
@dataclass(frozen=True)
class Batch:
    """One local step's data: x : [M, b, ...], y : [M, b, ...] (row m = ``devices[m]``'s samples)."""

    x: torch.Tensor
    y: torch.Tensor
    devices: tuple[str, ...]


class Correction(Protocol):
    """What a correction method may provide (every member optional; see the module docstring)."""

    project_on_leave: bool

    def on_event(self, state: TrainerState, event: Event) -> None: ...

    def schedule(self, state: TrainerState, round_index: int) -> Schedule | None: ...

    def penalty(self, state: TrainerState, logits: torch.Tensor, batch: Batch) -> torch.Tensor | None: ...


# ------------------------------------------------------------------------------------------------ state
def _resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device='cuda': no CUDA device is available")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def _set_peft_enabled(peft_layers: Sequence[torch.nn.Module], on: bool) -> None:
    # Toggle peft's own LoRA term without peft's enable_adapters(), which would also make lora_A trainable.
    for layer in peft_layers:
        layer._disable_adapters = not on


class TrainerState:
    """Everything a round needs, and the helpers that corrections use.

    Attributes: ``members`` (active devices, row order), ``blocks`` ({layer: Tensor [M, out, S]}), ``anchor``
    ({layer: [out, S]} or None), ``prox_weight`` ({layer: [out, S] or [M, out, S]} or None = 1), ``sets``
    ({"retain"|"join"|"forget": device names}), ``event`` (the last Event or None), ``oracle`` (dict with
    ``blocks`` and ``eval`` or None), ``round`` (the current round), ``task``, ``adapter``, ``groups``
    ({group: [layer names]}), ``config``, ``seed``.
    """

    def __init__(self, config: RunConfig, *, seed: int):
        from wirelora.learning.models import build_model  # deferred: builds peft/transformers models
        from wirelora.lora import OrthogonalLoRA

        self.config = config
        self.seed = int(seed)
        tc = config.trainer
        self.device = _resolve_device(tc.device)
        model, card = build_model(config.model.name, seed=self.seed)
        self.card = card
        if card.kind == "encoder":
            # the real path: an encoder with a frozen head over the task's labels (the topic names)
            from wirelora.learning.heads import PrototypeClassifier
            from wirelora.learning.models import build_tokenizer

            tokenizer = build_tokenizer(config.model.name)
            self.task: Task = build_task(config.task, tokenizer=tokenizer, seed=self.seed)
            model = PrototypeClassifier.from_label_names(model, tokenizer, self.task.label_names)
        else:
            self.task = build_task(config.task, **_task_dims(model, card), seed=self.seed)
        ranks = dict(config.model.ranks) if config.model.ranks is not None else dict(card.ranks)
        max_devices = config.model.max_devices or len(self.task.devices)
        require(
            max_devices >= len(self.task.devices),
            "model.max_devices",
            max_devices,
            f"must be >= the task's device pool ({len(self.task.devices)})",
        )
        groups = _card_layer_groups(card)
        self.adapter = OrthogonalLoRA(
            model,
            target_modules=list(card.target_modules),
            rank=ranks,
            max_devices=max_devices,
            basis=config.model.basis,
            seed=self.seed,
            layer_groups=groups,
            scaling=config.model.scaling,
            ownership=tc.ownership,
        )
        self.model = model.to(self.device).eval()
        self.groups: dict[str, list[str]] = {g: list(ns) for g, ns in self.adapter.groups.items()}
        self.group_names = list(self.groups)
        self.layers = [
            StackedLayer(
                name=n,
                group=self.adapter.layer_groups[n],
                module=self.adapter.lora_layer(n).base_layer,
                basis=self.adapter.basis_matrix(n),
                scaling=self.adapter.scaling(n),
            )
            for n in self.adapter.module_names
        ]
        self._peft_layers = [self.adapter.lora_layer(n) for n in self.adapter.module_names]
        _set_peft_enabled(self._peft_layers, False)
        self.stacked = StackedLoRA(self.layers)
        self.layer_names = [layer.name for layer in self.layers]
        self._out = {layer.name: layer.out_features for layer in self.layers}
        self._width = {layer.name: layer.num_columns for layer in self.layers}

        t = self.task
        self.train_x = torch.as_tensor(t.train_x, device=self.device)
        self.train_y = torch.as_tensor(t.train_y, device=self.device)
        self.eval_x = torch.as_tensor(t.eval_x, device=self.device)
        self.eval_y = torch.as_tensor(t.eval_y, device=self.device)

        self.members: list[str] = []
        self.ghosts: list[str] = []  # leavers whose blocks were not projected out (Naive Remove)
        self.blocks: dict[str, torch.Tensor] = {}
        self.opt: dict[str, dict[str, torch.Tensor]] = {}  # Adam moments per layer (see _fresh_opt)
        self.anchor: dict[str, torch.Tensor] | None = None
        self.prox_weight: dict[str, torch.Tensor] | None = None
        self.sets: dict[str, tuple[str, ...]] = {"retain": (), "join": (), "forget": ()}
        self.event: Event | None = None
        self.event_index = -1
        self.oracle: dict | None = None
        self.round = 0
        for d in t.initial:
            self.adapter.add_device(d)
        self.members = list(t.initial)
        self.blocks = {
            n: torch.zeros(len(self.members), self._out[n], self._width[n], device=self.device)
            for n in self.layer_names
        }
        self.sets = {"retain": tuple(self.members), "join": (), "forget": ()}
        self.opt = self._fresh_opt(len(self.members))

    def _fresh_opt(self, rows: int) -> dict[str, dict[str, torch.Tensor]]:
        """Adam moments per layer: [rows, out, r] on the own block (block ownership) or [rows, out, S]."""
        block = self.config.trainer.ownership == "block"
        out = {}
        for n in self.layer_names:
            cols = self.adapter.rank(n) if block else self._width[n]
            out[n] = {
                "m": torch.zeros(rows, self._out[n], cols, device=self.device),
                "v": torch.zeros(rows, self._out[n], cols, device=self.device),
                "t": torch.zeros(rows, 1, 1, device=self.device),
            }
        return out

    def _take_rows(self, keep: torch.Tensor) -> None:
        self.blocks = {n: b[keep] for n, b in self.blocks.items()}
        self.opt = {n: {k: v[keep] for k, v in o.items()} for n, o in self.opt.items()}

    # -------------------------------------------------------------------------------------------- structure
    def group_layers(self, group: str) -> list[str]:
        return self.groups[group]

    def ownership_mask(self, name: str, members: Sequence[str] | None = None) -> torch.Tensor:
        """[M, 1, S] float: 1 where row m may change layer ``name`` (its own slot; every member's if
        shared)."""
        members = list(self.members if members is None else members)
        s = self._width[name]
        mask = torch.zeros(len(members), 1, s, device=self.device)
        if self.config.trainer.ownership == "block":
            for m, d in enumerate(members):
                mask[m, 0, self.adapter.slot_columns(d, name)] = 1.0
        else:
            for d in members:
                mask[:, 0, self.adapter.slot_columns(d, name)] = 1.0
        return mask

    def own_index(self, name: str, members: Sequence[str] | None = None) -> torch.Tensor:
        """[M, r] int64: the columns of each row's own block in layer ``name`` (its slot)."""
        members = list(self.members if members is None else members)
        r = self.adapter.rank(name)
        starts = torch.as_tensor(
            [self.adapter.slot_columns(d, name).start for d in members], device=self.device
        )
        return starts[:, None] + torch.arange(r, device=self.device)[None, :]

    def live_columns(self, name: str) -> int:
        """Columns that devices send for layer ``name``: the members' and any unprojected leaver's."""
        return self.adapter.rank(name) * (len(self.members) + len(self.ghosts))

    def payload_bits(self, group: str) -> int:
        names = self.groups[group]
        return payload_bits(
            [self.live_columns(n) for n in names],
            [self._out[n] for n in names],
            self.config.trainer.bits_per_scalar,
        )

    # -------------------------------------------------------------------------------------------- models
    def logits(self, blocks: Mapping[str, torch.Tensor] | None, x: torch.Tensor) -> torch.Tensor:
        """Logits of R models on their own inputs. blocks: {layer: [R, out, S]} (or [out, S]: one model);
        x : [R, b, ...] → [R·b, ...]. ``blocks=None``: the base model."""
        if blocks is not None:
            blocks = {n: (b if b.dim() == 3 else b.unsqueeze(0)) for n, b in blocks.items()}
        with self.stacked.use(blocks):
            return logits_of(self.model(fold(x)))

    def base_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The frozen base model's logits (no adapter) on x : [R, b, ...] → [R·b, ...], without gradient."""
        with torch.no_grad():
            return self.logits(None, x)

    def losses(self, blocks: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-row loss [R] of copy r on x[r], y[r] (x : [R, b, ...])."""
        return row_losses(self.logits(blocks, x), y, x.shape[0])

    def consensus(self) -> dict[str, torch.Tensor]:
        """B̄ = device average of the copies, {layer: [out, S]}."""
        return {n: b.mean(dim=0) for n, b in self.blocks.items()}

    def consensus_distance(self, group: str | None = None) -> float:
        """mean_i ‖B_i − B̄‖² over the layers of ``group`` (all layers if None)."""
        names = self.layer_names if group is None else self.groups[group]
        total = 0.0
        for n in names:
            b = self.blocks[n]
            total += float(((b - b.mean(dim=0, keepdim=True)) ** 2).sum() / max(b.shape[0], 1))
        return total

    def data(self, devices: Sequence[str], split: str = "eval") -> tuple[torch.Tensor, torch.Tensor]:
        """Stacked data of ``devices``: x : [len, n, ...], y : [len, n, ...] (split "train" or "eval")."""
        idx = torch.as_tensor(self.task.index(devices), device=self.device)
        if split == "train":
            return self.train_x[idx], self.train_y[idx]
        return self.eval_x[idx], self.eval_y[idx]

    def _broadcast(self, point: Mapping[str, torch.Tensor] | None, rows: int) -> dict[str, torch.Tensor]:
        if point is None:
            return {n: b.detach().clone() for n, b in self.blocks.items()}
        return {n: p.detach().expand(rows, *p.shape[-2:]).clone() for n, p in point.items()}

    def local_gradients(
        self,
        point: Mapping[str, torch.Tensor] | None = None,
        *,
        devices: Sequence[str] | None = None,
        num_samples: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """Every device's gradient of its local training loss (without prox), unmasked.

        point: {layer: [out, S]} evaluated by every device (e.g. ``consensus()``), or None = each device's own
        copy. devices: default the members (rows follow this order). num_samples: the first n training samples
        of each device (default all). Returns {layer: [len(devices), out, S]}.
        """
        devices = list(self.members if devices is None else devices)
        if point is None and devices != self.members:
            raise ValueError("local_gradients: point=None (own copies) needs devices=None (all members)")
        x, y = self.data(devices, "train")
        if num_samples is not None:
            x, y = x[:, :num_samples], y[:, :num_samples]
        blocks = self._broadcast(point, len(devices))
        for b in blocks.values():
            b.requires_grad_(True)
        loss = self.losses(blocks, x, y).sum()
        grads = torch.autograd.grad(loss, list(blocks.values()))
        return dict(zip(blocks, grads))

    def per_sample_gradients(
        self,
        group: str,
        *,
        point: Mapping[str, torch.Tensor] | None = None,
        devices: Sequence[str] | None = None,
        num_samples: int = 16,
    ) -> dict[str, torch.Tensor]:
        """Per-sample gradients of the loss w.r.t. the group's factors at ``point`` (default: the consensus).

        Each sample is folded in as its own row, so one backward pass gives them all. Samples: the first
        ``num_samples`` training samples of each of ``devices`` (default: the members), device-major.
        Returns {layer of group: [N, out, S]}, N = len(devices) · num_samples.
        """
        devices = list(self.members if devices is None else devices)
        point = self.consensus() if point is None else point
        x, y = self.data(devices, "train")
        x = x[:, :num_samples].reshape(-1, 1, *x.shape[2:])  # [N, 1, ...]
        y = y[:, :num_samples].reshape(-1, 1, *y.shape[2:])
        blocks = self._broadcast(point, x.shape[0])
        wanted = self.groups[group]
        for n in wanted:
            blocks[n].requires_grad_(True)
        loss = self.losses(blocks, x, y).sum()
        grads = torch.autograd.grad(loss, [blocks[n] for n in wanted])
        return dict(zip(wanted, grads))

    @torch.no_grad()
    def evaluate(self, blocks: Mapping[str, torch.Tensor] | None = None) -> dict[str, float | None]:
        """Loss and accuracy of one model (default: the consensus) on the eval data of the current sets:
        {"retain_loss", "retain_acc", "join_loss", ..., "forget_acc"}; None where a set is empty."""
        blocks = self.consensus() if blocks is None else blocks
        out: dict[str, float | None] = {}
        for s in SETS:
            devs = self.sets[s]
            if not devs:
                out[f"{s}_loss"] = out[f"{s}_acc"] = None
                continue
            x, y = self.data(devs)
            x, y = x.reshape(1, -1, *x.shape[2:]), y.reshape(1, -1, *y.shape[2:])  # one row: the whole set
            logits = self._eval_logits(blocks, x)
            out[f"{s}_loss"] = float(row_losses(logits, y, 1)[0])
            out[f"{s}_acc"] = float(row_accuracy(logits, y, 1)[0])
        return out

    @torch.no_grad()
    def device_set_losses(self) -> dict[str, list[float] | None]:
        """Each member's own copy evaluated on each set: {"retain": [M], "join": [M], "forget": [M]}."""
        out: dict[str, list[float] | None] = {}
        rows = len(self.members)
        for s in SETS:
            devs = self.sets[s]
            if not devs:
                out[s] = None
                continue
            x, y = self.data(devs)
            x = x.reshape(1, -1, *x.shape[2:]).expand(rows, *([-1] * (x.dim() - 1)))  # [M, n, ...]
            y = y.reshape(1, -1, *y.shape[2:]).expand(rows, *([-1] * (y.dim() - 1)))
            out[s] = row_losses(self._eval_logits(self.blocks, x), y, rows).tolist()
        return out

    @torch.no_grad()
    def _eval_logits(self, blocks: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """:meth:`logits` for evaluation; with ``vectorised=False`` each model runs on its own through peft's
        LoRA layers, so that the reference path shares nothing with the stacked hooks."""
        if self.config.trainer.vectorised:
            return self.logits(blocks, x)
        blocks = {n: (b if b.dim() == 3 else b.unsqueeze(0)) for n, b in blocks.items()}
        rows = next(iter(blocks.values())).shape[0]
        params = {n: self.adapter.lora_layer(n).lora_B["default"].weight for n in self.layer_names}
        saved = {n: p.detach().clone() for n, p in params.items()}
        xs = x.reshape(rows, -1, *x.shape[2:]) if x.shape[0] != rows else x  # [R, b, ...]
        out = []
        _set_peft_enabled(self._peft_layers, True)
        try:
            for m in range(rows):
                for n, p in params.items():
                    p.copy_(blocks[n][m])
                out.append(logits_of(self.model(xs[m])))
        finally:
            _set_peft_enabled(self._peft_layers, False)
            for n, p in params.items():
                p.copy_(saved[n])
        return torch.cat(out)

    # -------------------------------------------------------------------------------------------- training
    def _batch(self, rows: Sequence[str], round_index: int, step: int, tag: int) -> Batch:
        b = min(self.config.trainer.batch_size, self.task.train_x.shape[1])
        rng = np.random.default_rng([self.seed, 11, tag, round_index, step])
        idx = np.argsort(rng.random((len(rows), self.task.train_x.shape[1])), axis=1)[:, :b]  # [R, b]
        dev = self.task.index(rows)
        x = self.train_x[torch.as_tensor(dev[:, None]), torch.as_tensor(idx)]  # [R, b, ...]
        y = self.train_y[torch.as_tensor(dev[:, None]), torch.as_tensor(idx)]
        return Batch(x=x.to(self.device), y=y.to(self.device), devices=tuple(rows))

    def _grads(
        self,
        blocks: dict[str, torch.Tensor],
        batch: Batch,
        active: Sequence[str],
        correction,
        own_idx: Mapping[str, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Per-row loss [R] and gradients of the active layers, vectorised or per device: on each row's own
        block, {layer: [R, out, r]}, when ``own_idx`` ({layer: [R, r]}) is given (block ownership), else on
        all columns, {layer: [R, out, S]} (unmasked)."""
        penalty = getattr(correction, "penalty", None)
        if not self.config.trainer.vectorised:
            return self._grads_loop(blocks, batch, active, penalty, own_idx)
        rows = len(batch.devices)
        if own_idx is not None:
            live = {n: b.detach() for n, b in blocks.items()}
            own = {
                n: (
                    torch.zeros(
                        rows, self._out[n], own_idx[n].shape[1], device=self.device, requires_grad=True
                    ),
                    own_idx[n],
                )
                for n in active
            }
            wrt = [own[n][0] for n in active]
        else:
            live = {n: b.detach().requires_grad_(n in active) for n, b in blocks.items()}
            own = None
            wrt = [live[n] for n in active]
        with self.stacked.use(live, own):
            logits = logits_of(self.model(fold(batch.x)))
        loss = row_losses(logits, batch.y, rows)
        if penalty is not None:
            extra = penalty(self, logits.reshape(rows, -1, *logits.shape[1:]), batch)
            if extra is not None:
                loss = loss + extra
        grads = torch.autograd.grad(loss.sum(), wrt) if active else []
        return loss.detach(), dict(zip(active, grads))

    def _grads_loop(self, blocks, batch, active, penalty, own_idx):
        """The reference: each device's model run on its own through peft's LoRA layers (lora_B = its
        copy), its full gradient taken and, under block ownership, its own columns read off."""
        losses, grads = [], {n: [] for n in active}
        params = {n: self.adapter.lora_layer(n).lora_B["default"].weight for n in self.layer_names}
        saved = {n: p.detach().clone() for n, p in params.items()}
        _set_peft_enabled(self._peft_layers, True)
        try:
            for m, d in enumerate(batch.devices):
                with torch.no_grad():
                    for n, p in params.items():
                        p.copy_(blocks[n][m])
                x = batch.x[m]
                logits = logits_of(self.model(x))
                loss = row_losses(logits, batch.y[m : m + 1], 1)
                if penalty is not None:
                    one = Batch(batch.x[m : m + 1], batch.y[m : m + 1], (d,))
                    extra = penalty(self, logits.unsqueeze(0), one)
                    if extra is not None:
                        loss = loss + extra
                g = torch.autograd.grad(loss.sum(), [params[n] for n in active]) if active else []
                losses.append(loss.detach())
                for n, gn in zip(active, g):
                    grads[n].append(gn if own_idx is None else gn[:, own_idx[n][m]])
        finally:
            _set_peft_enabled(self._peft_layers, False)
            with torch.no_grad():
                for n, p in params.items():
                    p.copy_(saved[n])
        return torch.cat(losses), {n: torch.stack(v) for n, v in grads.items()}

    def _check_losses(self, loss: torch.Tensor, rows: Sequence[str], round_index: int) -> None:
        bad = ~torch.isfinite(loss) | (loss > self.config.trainer.max_loss)
        if bool(bad.any()):
            m = int(torch.nonzero(bad)[0])
            raise DivergenceError(
                f"round {round_index}: device {rows[m]} local loss {float(loss[m])!r} "
                f"(NaN or above trainer.max_loss={self.config.trainer.max_loss})"
            )

    def local_steps(
        self,
        schedule: Schedule,
        round_index: int,
        correction=None,
        *,
        rows: Sequence[int] | None = None,
        tag: int = 0,
    ) -> float:
        """Each device (or only ``rows``) takes n_g steps of size η_g on group g, with the prox term;
        returns the mean local loss at the first step. Rows not listed are untouched.

        Block ownership: only each row's own columns are differentiated and stepped (gather, step, scatter),
        so the others are untouched bit for bit. Shared: all member columns, through a [R, 1, S] mask."""
        members = self.members
        rows = list(range(len(members))) if rows is None else list(rows)
        if not rows:
            return math.nan
        names = [members[r] for r in rows]
        sub = rows != list(range(len(members)))
        ridx = torch.as_tensor(rows, device=self.device)
        blocks = {n: (b[ridx] if sub else b) for n, b in self.blocks.items()}
        block_mode = self.config.trainer.ownership == "block"
        own_idx = {n: self.own_index(n, names) for n in self.layer_names} if block_mode else None
        masks = None if block_mode else {n: self.ownership_mask(n, names) for n in self.layer_names}
        nmax = max(schedule.groups[g].local_steps for g in self.group_names)
        first = math.nan
        for k in range(nmax):
            active = [
                n for g in self.group_names if schedule.groups[g].local_steps > k for n in self.groups[g]
            ]
            batch = self._batch(names, round_index, k, tag)
            loss, grads = self._grads(blocks, batch, active, correction, own_idx)
            self._check_losses(loss, names, round_index)
            if k == 0:
                first = float(loss.mean())
            new = dict(blocks)
            for g in self.group_names:
                gs = schedule.groups[g]
                if gs.local_steps <= k:
                    continue
                for n in self.groups[g]:
                    grad = grads[n]  # [R, out, r] (own block) or [R, out, S]
                    cur = blocks[n]
                    if block_mode:
                        gidx = own_idx[n][:, None, :].expand(-1, cur.shape[1], -1)  # [R, out, r]
                        cur = torch.gather(cur, 2, gidx)
                    if gs.prox > 0 and self.anchor is not None:
                        # ∇ (λ/2)‖w^½ (B − B_anchor)‖² = λ w (B − B_anchor)
                        anchor = self.anchor[n].expand_as(blocks[n])
                        w = None if self.prox_weight is None else self.prox_weight[n]
                        if w is not None:
                            w = w[ridx] if (w.dim() == 3 and sub) else w.expand_as(blocks[n])
                        if block_mode:
                            anchor = torch.gather(anchor, 2, gidx)
                            w = None if w is None else torch.gather(w, 2, gidx)
                        diff = cur - anchor
                        grad = grad + gs.prox * (diff if w is None else w * diff)
                    if not block_mode:
                        grad = masks[n] * grad  # [R, out, S]: every member's columns, never a free slot
                    step = cur - gs.step_size * self._direction(n, grad, ridx if sub else None)
                    new[n] = blocks[n].scatter(2, gidx, step) if block_mode else step
            blocks = {n: b.detach() for n, b in new.items()}
        for n in self.layer_names:
            if sub:
                full = self.blocks[n].clone()
                full[ridx] = blocks[n]
                self.blocks[n] = full
            else:
                self.blocks[n] = blocks[n]
        return first

    def _direction(self, name: str, grad: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
        """The step direction from a gradient [R, out, r] (own block) or masked [R, out, S]: the gradient
        itself (sgd), or Adam's bias-corrected m̂ / (√v̂ + ε) with per-device moments (which stay zero where a
        gradient is masked)."""
        if self.config.trainer.optimizer == "sgd":
            return grad
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        o = self.opt[name]
        m, v, t = (o["m"], o["v"], o["t"]) if rows is None else (o["m"][rows], o["v"][rows], o["t"][rows])
        t = t + 1.0
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad * grad
        direction = (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps)
        if rows is None:
            self.opt[name] = {"m": m, "v": v, "t": t}
        else:
            for key, val in (("m", m), ("v", v), ("t", t)):
                full = o[key].clone()
                full[rows] = val
                o[key] = full
        return direction

    def exchange(self, schedule: Schedule, round_index: int, backend: Backend) -> dict[str, int]:
        """Per group on its sync rounds: B ← W(γ_g) B over the group's graph. Returns bits sent per group."""
        bits = {}
        rule = self.config.trainer.mixing_rule
        for g in self.group_names:
            gs = schedule.groups[g]
            if not gs.is_sync_round(round_index) or len(self.members) < 2:
                bits[g] = 0
                continue
            w = damped_mixing(metropolis_weights(gs.adjacency, rule=rule), gs.gamma)  # [M, M]
            mixed = backend.exchange({n: self.blocks[n] for n in self.groups[g]}, w)
            self.blocks.update(mixed)
            bits[g] = backend.sent_bits(gs.adjacency, self.payload_bits(g))
        return bits

    # -------------------------------------------------------------------------------------------- events
    def apply_event(self, event: Event, *, project: bool) -> None:
        """Leave: project the leavers out of every copy (or keep them, ``project=False``) and drop their rows;
        join: a new slot, a row initialised to the consensus (its own block zero), and a warm start of the
        joiner's block on its own data. Then the sets, the prox anchor (the post-event consensus)."""
        before = list(self.members)
        self._sync_adapter()
        for u in event.leave:
            if project:
                for n in self.layer_names:
                    self.blocks[n] = self.adapter.project_out(self.blocks[n], n, u)
                self.adapter.remove_device(u)
            else:
                self.ghosts.append(u)
            keep = torch.as_tensor(
                [i for i, d in enumerate(self.members) if d != u], device=self.device, dtype=torch.long
            )
            self._take_rows(keep)
            self.members = [d for d in self.members if d != u]
            if self.prox_weight is not None:
                self.prox_weight = None
        for j in event.join:
            self.adapter.add_device(j)
            start = {
                n: (
                    b.mean(dim=0, keepdim=True)
                    if b.shape[0]
                    else torch.zeros(1, *b.shape[1:], device=self.device)
                )
                for n, b in self.blocks.items()
            }
            for n in self.layer_names:
                start[n][..., self.adapter.slot_columns(j, n)] = 0.0  # the joiner's own block starts at zero
                self.blocks[n] = torch.cat([self.blocks[n], start[n]], dim=0)
            fresh = self._fresh_opt(1)
            self.opt = {n: {k: torch.cat([o[k], fresh[n][k]], dim=0) for k in o} for n, o in self.opt.items()}
            self.members.append(j)
        warm = self.config.trainer.join_warm_steps
        if event.join and warm > 0:
            tc = self.config.trainer
            rows = [self.members.index(j) for j in event.join]
            sched = uniform_schedule(
                self.group_names,
                self.members,
                event.round,
                local_steps=warm,
                step_size=tc.step_size,
                prox=0.0,
                gamma=tc.gamma,
                sync_period=1,
                density=tc.density,
                graph="complete",
                seed=self.seed,
            )
            saved_anchor, self.anchor = self.anchor, None
            self.local_steps(sched, event.round, None, rows=rows, tag=1)
            self.anchor = saved_anchor
        self.sets = event_sets(before, event.leave, event.join)
        self.event = event
        self.event_index += 1
        self.anchor = {n: b.detach().clone() for n, b in self.consensus().items()}
        self.prox_weight = None
        self._sync_adapter()

    def _sync_adapter(self) -> None:
        # The adapter's own B holds the consensus, so that its slot bookkeeping (a freed slot is reused only
        # once its block is zero) sees the real blocks, and a saved adapter is the consensus model.
        if not self.members:
            return
        cons = self.consensus()
        with torch.no_grad():
            for n in self.layer_names:
                self.adapter.lora_layer(n).lora_B["default"].weight.copy_(cons[n])

    # -------------------------------------------------------------------------------------------- record
    def default_schedule(self, round_index: int) -> Schedule:
        tc = self.config.trainer
        return uniform_schedule(
            self.group_names,
            self.members,
            round_index,
            local_steps=tc.local_steps,
            step_size=tc.step_size,
            prox=tc.prox,
            gamma=tc.gamma,
            sync_period=tc.sync_period,
            density=tc.density,
            graph=tc.graph,
            initial_members=self.task.initial,
            edges=tc.edges,
            seed=self.seed,
        )


def _task_dims(model: torch.nn.Module, card) -> dict[str, int]:
    """Sizes the task needs, read off the built model: the vocabulary (LMs) or input / class counts."""
    cfg = getattr(model, "config", None)
    if card.kind == "causal-lm":
        return {"vocab_size": int(cfg.vocab_size)}
    if card.kind == "classifier" and cfg is None:  # TinyMLP
        return {"in_features": int(model.fc1.in_features), "num_classes": int(model.head.out_features)}
    raise ConfigError(
        f"model.name={card.name!r}: kind {card.kind!r} has no task here yet (use tiny-lm or tiny-mlp)"
    )


def _card_layer_groups(card) -> dict[str, str] | None:
    """The card's layer groups as {module name: group}, whichever way round the card stores them."""
    groups = getattr(card, "layer_groups", None)
    if not groups:
        return None
    first = next(iter(groups.values()))
    if isinstance(first, str):
        return dict(groups)
    return {n: g for g, names in groups.items() for n in names}


# ------------------------------------------------------------------------------------------------ oracle
def _oracle_key(state: TrainerState, members: Sequence[str]) -> str:
    cfg = state.config
    ident = {
        "seed": state.seed,
        "model": to_dict(cfg.model),
        "task": to_dict(cfg.task),
        "trainer": {
            k: v
            for k, v in to_dict(cfg.trainer).items()
            if k in ("batch_size", "ownership", "step_size", "mixing_rule", "optimizer", "vectorised")
        },
        "oracle": {k: v for k, v in to_dict(cfg.oracle).items() if k != "cache_dir"},
        "members": list(members),
        "slots": [state.adapter.slot_of(d) for d in members],
        "draws": state.adapter.slot_table()["slot_draws"],  # independent bases: which draw fills each slot
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:20]


def train_oracle(state: TrainerState, cache_dir: Path | None) -> dict[str, torch.Tensor]:
    """Retrain from zero on the current members' data in their slots; {layer: [out, S]} (cached by key)."""
    oc = state.config.oracle
    key = _oracle_key(state, state.members)
    path = None if cache_dir is None else Path(cache_dir) / f"oracle-{key}.pt"
    if path is not None and path.is_file():
        saved = torch.load(path, map_location=state.device, weights_only=True)
        return {n: saved[n] for n in state.layer_names}
    # A scratch copy of the state's training fields: same members and slots, blocks from zero, no prox.
    saved = (state.blocks, state.anchor, state.prox_weight, state.opt)
    state.blocks = {n: torch.zeros_like(b) for n, b in state.blocks.items()}
    state.opt = state._fresh_opt(len(state.members))
    state.anchor, state.prox_weight = None, None
    try:
        tc = state.config.trainer
        step = oc.step_size if oc.step_size is not None else tc.step_size
        sched = uniform_schedule(
            state.group_names,
            state.members,
            0,
            local_steps=oc.local_steps,
            step_size=step,
            prox=0.0,
            gamma=1.0,
            sync_period=1,
            density=1.0,
            graph="complete",
            seed=state.seed,
        )
        backend = InProcessBackend()
        tag = 1000 + state.event_index
        for r in range(oc.rounds):
            state.local_steps(sched, r, None, tag=tag)
            state.exchange(sched, r, backend)
        result = state.consensus()
    finally:
        state.blocks, state.anchor, state.prox_weight, state.opt = saved
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save({n: t.cpu() for n, t in result.items()}, tmp)
        os.replace(tmp, path)
    return result


# ------------------------------------------------------------------------------------------------ the loop
def _record(
    state: TrainerState,
    r: int,
    schedule: Schedule,
    bits: dict[str, int],
    train_loss: float,
    event: Event | None,
    wall_s: float,
) -> dict:
    tc = state.config.trainer
    rec: dict[str, Any] = {
        "round": r,
        "members": list(state.members),
        "event": None if event is None else {"leave": list(event.leave), "join": list(event.join)},
    }
    evaluated = r % tc.eval_every == 0 or r == tc.rounds - 1
    ev = state.evaluate() if evaluated else {f"{s}_{k}": None for s in SETS for k in ("loss", "acc")}
    rec.update(ev)
    rec["device_losses"] = state.device_set_losses() if evaluated and tc.device_losses else None
    if state.oracle is not None:
        rec.update({f"oracle_{k}": v for k, v in state.oracle["eval"].items()})
    rec["consensus_distance"] = state.consensus_distance()
    rec["consensus_distance_group"] = {g: state.consensus_distance(g) for g in state.group_names}
    rec["bits_sent"] = int(sum(bits.values()))
    rec["bits_sent_group"] = {g: int(b) for g, b in bits.items()}
    rec["schedule"] = {
        g: {**schedule.groups[g].to_record(state.members), "sync": schedule.groups[g].is_sync_round(r)}
        for g in state.group_names
    }
    rec["train_loss"] = train_loss
    rec.update({k: float(v) for k, v in schedule.record.items()})
    rec["wall_time_s"] = wall_s
    return rec


def _save_checkpoint(path: Path, state: TrainerState, history: History, correction, round_done: int) -> None:
    payload = {
        "round": round_done,
        "members": state.members,
        "ghosts": state.ghosts,
        "blocks": {n: b.cpu() for n, b in state.blocks.items()},
        "opt": {n: {k: v.cpu() for k, v in o.items()} for n, o in state.opt.items()},
        "anchor": None if state.anchor is None else {n: b.cpu() for n, b in state.anchor.items()},
        "prox_weight": None
        if state.prox_weight is None
        else {n: b.cpu() for n, b in state.prox_weight.items()},
        "sets": state.sets,
        "event": None if state.event is None else dataclasses.asdict(state.event),
        "event_index": state.event_index,
        "oracle": None
        if state.oracle is None
        else {
            "blocks": {n: b.cpu() for n, b in state.oracle["blocks"].items()},
            "eval": state.oracle["eval"],
        },
        "slot_table": state.adapter.slot_table(),
        "history": history.to_json(),
        "correction": correction.state_dict() if hasattr(correction, "state_dict") else None,
    }
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(payload, tmp)
    os.replace(tmp, path)  # atomic: a kill leaves the previous checkpoint intact


def _load_checkpoint(path: Path, state: TrainerState, correction) -> tuple[int, History]:
    ck = torch.load(path, map_location=state.device, weights_only=False)
    state.adapter.load_slot_table(ck["slot_table"])
    state.members = list(ck["members"])
    state.ghosts = list(ck["ghosts"])
    state.blocks = {n: b.to(state.device) for n, b in ck["blocks"].items()}
    state.opt = {n: {k: v.to(state.device) for k, v in o.items()} for n, o in ck["opt"].items()}
    state.anchor = None if ck["anchor"] is None else {n: b.to(state.device) for n, b in ck["anchor"].items()}
    state.prox_weight = (
        None if ck["prox_weight"] is None else {n: b.to(state.device) for n, b in ck["prox_weight"].items()}
    )
    state.sets = {k: tuple(v) for k, v in ck["sets"].items()}
    state.event = None if ck["event"] is None else Event(**ck["event"])
    state.event_index = ck["event_index"]
    state.oracle = (
        None
        if ck["oracle"] is None
        else {
            "blocks": {n: b.to(state.device) for n, b in ck["oracle"]["blocks"].items()},
            "eval": ck["oracle"]["eval"],
        }
    )
    state._sync_adapter()
    if ck["correction"] is not None and hasattr(correction, "load_state_dict"):
        correction.load_state_dict(ck["correction"])
    h = ck["history"]
    return int(ck["round"]) + 1, History(config=h["config"], rounds=h["rounds"], meta=h.get("meta", {}))


def run(
    config: RunConfig,
    *,
    seed: int | None = None,
    correction: Correction | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    backend: Backend | None = None,
    progress: bool = False,
    stop_after: int | None = None,
) -> History:
    """Run ``config`` and return its History (also saved to ``out_dir/history.json`` when given).

    seed: overrides ``config.seed``. correction: the hooks of the module docstring (None = plain uniform DGD
    with the leave projection). out_dir + resume=True: continue from ``out_dir/checkpoint.pt`` if it exists.
    stop_after: stop (with a checkpoint) after this round — for tests of resume.
    """
    seed = config.seed if seed is None else int(seed)
    if seed != config.seed:
        config = dataclasses.replace(config, seed=seed)
    tc = config.trainer
    backend = backend or InProcessBackend()
    out = None if out_dir is None else Path(out_dir)
    if tc.threads and not (tc.device == "cuda" or (tc.device == "auto" and torch.cuda.is_available())):
        torch.set_num_threads(tc.threads)  # tiny models: one thread beats two fighting over a shared CPU
    state = TrainerState(config, seed=seed)
    events = list(config.events) or sample_events(
        config.churn, state.task.initial, state.task.devices, tc.rounds, seed=seed
    )
    events = {e.round: e for e in timeline(events, state.task.initial, state.task.devices, tc.rounds)}
    project = bool(getattr(correction, "project_on_leave", True))
    cache_dir = None
    if config.oracle.enabled:
        cache_dir = (
            Path(config.oracle.cache_dir) if config.oracle.cache_dir else (out / "oracle" if out else None)
        )

    history = History(
        config=to_dict(config),
        meta={
            "events": [dataclasses.asdict(e) for e in events.values()],
            "groups": state.groups,
            "device": str(state.device),
        },
    )
    start = 0
    ck_path = None if out is None else out / "checkpoint.pt"
    if resume and ck_path is not None and ck_path.is_file():
        start, history = _load_checkpoint(ck_path, state, correction)

    if stop_after is not None and start > stop_after:
        return history  # already past the requested stop (a resumed, later checkpoint)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=tc.rounds, initial=start, desc=config.name, unit="round", dynamic_ncols=True)
    try:
        for r in range(start, tc.rounds):
            t0 = time.perf_counter()
            state.round = r
            event = events.get(r)
            if event is not None:
                state.apply_event(event, project=project)
                if config.oracle.enabled:
                    ob = train_oracle(state, cache_dir)
                    state.oracle = {"blocks": ob, "eval": state.evaluate(ob)}
                if correction is not None and hasattr(correction, "on_event"):
                    correction.on_event(state, event)
            schedule = None
            if correction is not None and hasattr(correction, "schedule"):
                schedule = correction.schedule(state, r)
            schedule = schedule or state.default_schedule(r)
            schedule.check(state.group_names, len(state.members), r)
            train_loss = state.local_steps(schedule, r, correction)
            bits = state.exchange(schedule, r, backend)
            history.append(_record(state, r, schedule, bits, train_loss, event, time.perf_counter() - t0))
            if bar is not None:
                last = history.rounds[-1]
                bar.set_postfix(
                    {
                        k: f"{last[k]:.3f}"
                        for k in ("train_loss", "retain_loss", "forget_loss")
                        if last.get(k) is not None
                    },
                    refresh=False,
                )
                bar.update(1)
            done = r == tc.rounds - 1 or (stop_after is not None and r >= stop_after)
            if ck_path is not None and (done or (tc.checkpoint_every and (r + 1) % tc.checkpoint_every == 0)):
                _save_checkpoint(ck_path, state, history, correction, r)
                history.save(out)
            if stop_after is not None and r >= stop_after:
                break
    finally:
        if bar is not None:
            bar.close()
    if out is not None:
        history.save(out)
    return history
