"""The run's typed configuration: the model, the trainer, the oracle and the whole run (docs/method.md §3)."""

from __future__ import annotations

from dataclasses import dataclass, field

from wirelora.config import (
    ConfigError,
    check_choice,
    check_nonnegative,
    check_positive,
    check_probability,
    require,
)
from wirelora.correction.config import CorrectionConfig, PolicyConfig
from wirelora.correction.schedule import GRAPH_KINDS, edges_graph
from wirelora.distributed.config import DistributedConfig
from wirelora.learning.events import ChurnConfig, Event, members_at, timeline
from wirelora.learning.tasks import TaskConfig
from wirelora.wireless.config import WirelessConfig

__all__ = ["ModelConfig", "TrainerConfig", "OracleConfig", "RunConfig"]

DEVICES = ("auto", "cpu", "cuda")
OWNERSHIP = ("block", "shared")


@dataclass(frozen=True)
class ModelConfig:
    """The frozen base model and its orthogonal-LoRA adapter (ranks / groups default to the model card's)."""

    name: str = "tiny-lm"
    basis: str = "slotted"
    ranks: dict[str, int] | None = None
    max_devices: int | None = None  # slots per layer; default: the task's pool; at most the card's
    scaling: float = 1.0
    # a peft LoRA adapter directory: its ΔW seeds the initial members' slots (wirelora.lora.peft_import)
    init_adapter: str | None = None

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
        if self.init_adapter is not None:
            require(
                isinstance(self.init_adapter, str) and bool(self.init_adapter),
                "model.init_adapter",
                self.init_adapter,
                "must be the path of a peft adapter directory",
            )


@dataclass(frozen=True)
class TrainerConfig:
    rounds: int = 100
    local_steps: int = 1
    step_size: float = 0.03
    prox: float = 0.0
    gamma: float = 1.0  # mixing damping W(γ) = (1 − γ) I + γ W
    density: float = 0.4  # edge density of the random per-group graphs
    sync_period: int = 1
    optimizer: str = (
        "adam"  # per-device local optimizer: sgd (B ← B − η g) or adam (moments stay on the device)
    )
    adam_beta1: float = 0.9  # Adam's moment decays and ε (optimizer: adam)
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
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
    max_block_norm: float = 1e6  # a device's block (Frobenius) norm above this (or non-finite) stops it too
    # CPU: torch intra-op threads for the run (process-wide). Float reductions depend on it, so it is fixed by
    # the config, not by OMP_NUM_THREADS; 0 = torch's own setting (then the History depends on the machine).
    threads: int = 1

    def __post_init__(self):
        for name in ("rounds", "local_steps", "sync_period", "batch_size", "eval_every", "bits_per_scalar"):
            v = getattr(self, name)
            require(isinstance(v, int) and v >= 1, f"trainer.{name}", v, "must be an integer >= 1")
        for name in ("join_warm_steps", "checkpoint_every", "threads"):
            v = getattr(self, name)
            require(isinstance(v, int) and v >= 0, f"trainer.{name}", v, "must be an integer >= 0")
        check_positive("trainer.step_size", self.step_size)
        for name in ("adam_beta1", "adam_beta2"):
            v = getattr(self, name)
            require(isinstance(v, int | float) and 0 <= v < 1, f"trainer.{name}", v, "must be in [0, 1)")
        check_positive("trainer.adam_eps", self.adam_eps)
        check_nonnegative("trainer.prox", self.prox)
        check_probability("trainer.gamma", self.gamma)
        check_probability("trainer.density", self.density)
        check_choice("trainer.graph", self.graph, GRAPH_KINDS)
        check_choice("trainer.mixing_rule", self.mixing_rule, ("mh", "paper"))
        check_choice("trainer.ownership", self.ownership, OWNERSHIP)
        check_choice("trainer.optimizer", self.optimizer, ("sgd", "adam"))
        check_choice("trainer.device", self.device, DEVICES)
        check_positive("trainer.max_loss", self.max_loss)
        check_positive("trainer.max_block_norm", self.max_block_norm)
        require(
            not (self.mixing_rule == "paper" and self.gamma == 1.0 and self.graph == "ring"),
            "trainer.gamma",
            self.gamma,
            "the paper's mixing rule on a ring needs gamma < 1 (rho = 1)",
        )


@dataclass(frozen=True)
class OracleConfig:
    """Retrain from scratch on the post-event members' data (same model, same slots), cached per event.

    ``kind: decentral`` (the default): the oracle trains like the run (same batch size, ownership, step size
    unless set) on a complete graph with exact averaging (γ = 1, Metropolis–Hastings), for ``rounds`` rounds
    of ``local_steps`` steps. ``kind: central``: the certified oracle of :mod:`wirelora.learning
    .oracle_central` — one model, all members' blocks jointly, full batch, L-BFGS until ‖∇F‖ ≤ ``grad_tol``
    and the relative objective change ≤ ``rel_tol`` (at most ``max_steps``), on F = training loss +
    (``weight_decay`` / 2)‖B‖²; every evaluated round then records ``train_objective`` = F(consensus) and
    ``oracle_train_objective`` = F(oracle), the event gap's objective.
    """

    enabled: bool = False
    kind: str = "decentral"
    rounds: int = 200
    local_steps: int = 1
    step_size: float | None = None
    cache_dir: str | None = None  # default: <output dir>/oracle when the run has one, else no cache
    # kind: central
    weight_decay: float = 1e-2
    grad_tol: float = 1e-3
    rel_tol: float = 1e-6
    max_steps: int = 4000
    history_size: int = 20

    def __post_init__(self):
        check_choice("oracle.kind", self.kind, ("decentral", "central"))
        check_positive("oracle.weight_decay", self.weight_decay)
        check_positive("oracle.grad_tol", self.grad_tol)
        check_positive("oracle.rel_tol", self.rel_tol)
        for name in ("max_steps", "history_size"):
            v = getattr(self, name)
            require(isinstance(v, int) and v >= 1, f"oracle.{name}", v, "must be an integer >= 1")
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
    """A whole run: every section typed and validated at load (an unknown key anywhere is a ConfigError).

    ``correction`` None (the default) is plain DGD; a ``correction:`` section (even ``{}``) runs its method
    after each event, with the ``policy:`` and ``wireless:`` sections (used only by a correction run).
    """

    name: str = "run"
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    events: tuple[Event, ...] = ()
    churn: ChurnConfig = field(default_factory=ChurnConfig)
    oracle: OracleConfig = field(default_factory=OracleConfig)
    correction: CorrectionConfig | None = None
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    wireless: WirelessConfig = field(default_factory=WirelessConfig)
    distributed: DistributedConfig = field(default_factory=DistributedConfig)

    def __post_init__(self):
        require(isinstance(self.seed, int) and self.seed >= 0, "seed", self.seed, "must be an integer >= 0")
        pool = [f"d{i}" for i in range(self.task.num_devices)]
        initial = pool[: self.task.initial_devices]
        # validates leave of a non-member, join of a member, an event past the last round, ...
        timeline(self.events, initial, pool, self.trainer.rounds)
        if self.churn.rate > 0 and self.events:
            raise ConfigError("churn.rate: give either an events list or a churn rate, not both")
        if self.correction is None:
            for name, default in (("policy", PolicyConfig()), ("wireless", WirelessConfig())):
                require(
                    getattr(self, name) == default,
                    name,
                    "{...}",
                    "is read only by a correction run: add a correction section (e.g. correction: {})",
                )
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
