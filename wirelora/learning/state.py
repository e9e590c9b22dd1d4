"""The trainer's state: the stacked adapter copies of the members and what they need (docs/method.md §3).

Per adapted layer the stacked copies ``B : [M, out, S]`` (row m = the m-th member in member order: stayers
first, joiners appended), all sharing the frozen bases A : [in, S] of :class:`OrthogonalLoRA`. The state owns
its fields and the structure around them (ownership, payload, consensus, data, the default schedule); probes,
the local step, gossip and membership are functions over it (:mod:`probes`, :mod:`step`, :mod:`gossip`,
:mod:`membership`), also callable as the methods of the same names that corrections use.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from wirelora.config import ConfigError, require
from wirelora.correction.schedule import Schedule, uniform_schedule
from wirelora.distributed.backend import payload_bits
from wirelora.learning import gossip, membership, probes, step
from wirelora.learning.config import RunConfig
from wirelora.learning.events import Event
from wirelora.learning.stacked import StackedLayer, StackedLoRA
from wirelora.learning.step import adam_init
from wirelora.learning.tasks import Task, build_task

__all__ = ["TrainerState"]


def _resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device='cuda': no CUDA device is available")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


class TrainerState:
    """Everything a round needs, and the helpers that corrections use.

    Attributes: ``members`` (active devices, row order), ``blocks`` ({layer: Tensor [M, out, S]}), ``anchor``
    ({layer: [out, S]} or None), ``prox_weight`` ({layer: [out, S] or [M, out, S]} or None = 1), ``sets``
    ({"retain"|"join"|"forget": device names}), ``event`` (the last Event or None), ``oracle`` (dict with
    ``blocks`` and ``eval`` or None), ``oracle_certificate`` (the central oracle's or None), ``round`` (the
    current round), ``task``, ``adapter``, ``groups`` ({group: [layer names]}), ``config``, ``seed``,
    ``peft_root`` (the submodule a peft export is relative to: ``"encoder"`` for encoders, else ``""``).
    """

    def __init__(self, config: RunConfig, *, seed: int):
        from wirelora.learning.models import (  # deferred: builds peft/transformers models
            build_model,
            build_tokenizer,
            card_ranks,
            check_serves,
        )
        from wirelora.lora import OrthogonalLoRA

        self.config = config
        self.seed = int(seed)
        tc = config.trainer
        self.device = _resolve_device(tc.device)
        model, card = build_model(config.model.name, seed=self.seed)
        self.card = card
        check_serves(card, config.task.kind)
        # the submodule a peft user loads as the Hugging Face model: the encoder inside wirelora's head
        self.peft_root = "encoder" if card.kind == "encoder" else ""
        if card.kind == "encoder":
            # the real path: an encoder with a frozen head over the task's labels (the topic names)
            from wirelora.learning.heads import PrototypeClassifier

            tokenizer = build_tokenizer(card)
            require(
                tokenizer is not None,
                "path",
                None,
                f"model card {card.name!r} (kind encoder) needs a checkpoint directory with its tokenizer "
                f"for task.kind={config.task.kind!r} (or a package)",
            )
            self.task: Task = build_task(config.task, tokenizer=tokenizer, seed=self.seed)
            model = PrototypeClassifier.from_label_names(model, tokenizer, self.task.label_names)
        else:
            self.task = build_task(config.task, **_task_dims(model, card), seed=self.seed)
        ranks = card_ranks(card, config.model.ranks)
        max_devices = config.model.max_devices or len(self.task.devices)
        require(
            max_devices >= len(self.task.devices),
            "model.max_devices",
            max_devices,
            f"must be >= the task's device pool ({len(self.task.devices)})",
        )
        require(
            max_devices <= card.max_devices,
            "model.max_devices" if config.model.max_devices else "task.num_devices",
            max_devices,
            f"the model card {config.model.name!r} has slots for at most max_devices={card.max_devices}",
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
        self.adapter.set_peft_enabled(False)  # the stacked hooks add the copies' ΔW; peft's own term is off
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
        self.opt: dict[str, dict[str, torch.Tensor]] = {}  # Adam moments per layer (see fresh_moments)
        self.anchor: dict[str, torch.Tensor] | None = None
        self.prox_weight: dict[str, torch.Tensor] | None = None
        self.sets: dict[str, tuple[str, ...]] = {"retain": (), "join": (), "forget": ()}
        self.event: Event | None = None
        self.event_index = -1
        self.oracle: dict | None = None
        self.oracle_certificate: dict | None = None  # the central oracle's stationarity certificate
        self.round = 0
        for d in t.initial:
            self.adapter.add_device(d)
        self.members = list(t.initial)
        self.blocks = {
            n: torch.zeros(len(self.members), self._out[n], self._width[n], device=self.device)
            for n in self.layer_names
        }
        if config.model.init_adapter is not None:  # every copy starts at the imported adapter
            seeded = _seeded_blocks(self.adapter, config.model.init_adapter, self.peft_root)
            for n in self.layer_names:
                self.blocks[n][:] = seeded[n].to(self.blocks[n])
        self.sets = {"retain": tuple(self.members), "join": (), "forget": ()}
        self.opt = self.fresh_moments(len(self.members))

    def fresh_moments(self, rows: int) -> dict[str, dict[str, torch.Tensor]]:
        """Fresh optimiser moments per layer for ``rows`` devices: on the own block [rows, out, r] (block
        ownership) or on all columns [rows, out, S]."""
        block = self.config.trainer.ownership == "block"
        return {
            n: adam_init(rows, self._out[n], self.adapter.rank(n) if block else self._width[n], self.device)
            for n in self.layer_names
        }

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

    def _sync_adapter(self) -> None:
        # The adapter's own B holds the consensus, so that its slot bookkeeping (a freed slot is reused only
        # once its block is zero) sees the real blocks, and a saved adapter is the consensus model.
        if not self.members:
            return
        cons = self.consensus()
        with torch.no_grad():
            for n in self.layer_names:
                self.adapter.b_weight(n).copy_(cons[n])

    # -------------------------------------------------------------------------------------------- delegates
    def logits(self, blocks, x):
        return probes.logits(self, blocks, x)

    def base_logits(self, x):
        return probes.base_logits(self, x)

    def losses(self, blocks, x, y):
        return probes.losses(self, blocks, x, y)

    def local_gradients(self, point=None, **kw):
        return probes.local_gradients(self, point, **kw)

    def per_sample_gradients(self, group, **kw):
        return probes.per_sample_gradients(self, group, **kw)

    def evaluate(self, blocks=None):
        return probes.evaluate(self, blocks)

    def device_set_losses(self):
        return probes.device_set_losses(self)

    def local_steps(self, schedule, round_index, correction=None, **kw):
        return step.local_steps(self, schedule, round_index, correction, **kw)

    def local_step_losses(self, schedule, round_index, correction=None, **kw):
        return step.local_step_losses(self, schedule, round_index, correction, **kw)

    def exchange(self, schedule, round_index, backend):
        return gossip.exchange(self, schedule, round_index, backend)

    def apply_event(self, event, *, project):
        membership.apply_event(self, event, project=project)

    # ---------------------------------------------------------------------------------------- schedule
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
    # check_serves admits no other kind here than the TinyMLP's classifier tasks
    return {"in_features": int(model.fc1.in_features), "num_classes": int(model.head.out_features)}


def _seeded_blocks(adapter, path: str, root: str) -> dict[str, torch.Tensor]:
    """The initial members' blocks {layer: B [out, S]} holding the peft adapter at ``path`` (its module names
    relative to the submodule ``root``; the slotted bases are rebuilt around it); a problem with it is a
    ConfigError naming model.init_adapter."""
    from wirelora.lora.peft_import import read_peft_deltas, seed_members

    try:
        deltas = read_peft_deltas(path)
        return seed_members(adapter, {f"{root}.{n}" if root else n: d for n, d in deltas.items()})
    except ValueError as exc:
        raise ConfigError(f"model.init_adapter={path!r}: {exc}") from None


def _card_layer_groups(card) -> dict[str, str] | None:
    """The card's layer groups as {module name: group}, whichever way round the card stores them."""
    groups = getattr(card, "layer_groups", None)
    if not groups:
        return None
    first = next(iter(groups.values()))
    if isinstance(first, str):
        return dict(groups)
    return {n: g for g, names in groups.items() for n in names}
