"""Per-device tasks whose knowledge is separable, so that forgetting can be measured.

Every task has a pool of devices ``d0 … d{N-1}`` (the first ``initial_devices`` start as members, the others
can join) and per-device train/eval tensors of equal size, stacked on a leading device axis so that a round
can fold the active devices into the batch dimension.

- ``facts`` (tiny language model): device u owns ``facts_per_device`` key→value facts over its own key
  tokens (disjoint across devices) with values drawn for it alone. A sequence is ``k1 v1 k2 v2 …`` and the
  loss is the next-token loss on the value positions only. A model that never saw u predicts u's values at
  chance (1 / num_values). Train and eval sequences hold the same facts in different orders and
  combinations: the knowledge tested is the device's facts. With ``key_tokens: 2`` a key is a pair of
  tokens (distinct pairs across devices), for more devices than key tokens (e.g. 128). This is
  memorisation of a list: eval asks the same keys, so held-out loss measures confidence on recalled items.
- ``rule`` (tiny language model, :mod:`wirelora.learning.task_rule`): device u owns a dictionary from its
  own key tokens to shared value tokens, and an answer translates a list of u's keys by it; eval lists are
  lists never trained on (of rule_keys ** rule_length), answered right only by a model that learned u's
  dictionary.
- ``clusters`` (classifier): device u owns ``clusters_per_device`` Gaussian clusters in input space, each
  with a label drawn for it; inputs are centre + noise. Unseen clusters are classified at chance.
- ``dirichlet`` (classifier): one shared Gaussian-mixture problem, labels split across devices by
  Dirichlet(α) proportions (the usual non-IID partition; less separable than ``clusters``).
- ``topics`` (MiniLM, the real path): the English topics of ``chatterbot-corpus`` (those with at least 40
  distinct utterances), ``topics_per_device`` whole topics per device; the label of a sentence is its topic,
  classified by a frozen head built from the topic names (:mod:`wirelora.learning.heads`). Train and eval
  sentences are disjoint (70/30 per topic).

After an event (docs/method.md §3): retain set = eval data of the pre-event members that stay, join set = the
joiners', forget set = the leavers' (:func:`event_sets`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wirelora.config import check_choice, check_positive, require
from wirelora.streams import stream

__all__ = ["TaskConfig", "Task", "TASK_KINDS", "build_task", "event_sets", "IGNORE_INDEX"]

TASK_KINDS = ("facts", "rule", "clusters", "dirichlet", "topics")
IGNORE_INDEX = -100


@dataclass(frozen=True)
class TaskConfig:
    kind: str = "facts"
    num_devices: int = 8  # the pool: initial members and possible joiners
    initial_devices: int = 6
    train_per_device: int = 64  # sequences (facts) or samples (classifiers) per device
    eval_per_device: int = 32
    # facts
    facts_per_device: int = 8
    pairs_per_sequence: int = 4
    num_values: int = 16  # value tokens first_token .. first_token+num_values-1; key tokens follow
    key_tokens: int = 1  # tokens per key (2+ when devices x facts exceed the key tokens, e.g. 128 devices)
    first_token: int = 3  # below: the LM's special tokens (0 pad, 1 bos, 2 eos), never used as facts
    # rule (also uses first_token and num_values): device u translates lists of its keys by its dictionary
    rule_keys: int = 8  # key tokens per device (disjoint across devices)
    rule_length: int = 6  # list length; there are rule_keys ** rule_length lists per device
    # classifiers
    clusters_per_device: int = 4
    noise: float = 0.3
    alpha: float = 0.5  # Dirichlet concentration
    # topics (MiniLM on chatterbot-corpus): each device owns topics_per_device whole topics
    topics_per_device: int = 2
    max_tokens: int = 24

    def __post_init__(self):
        check_choice("task.kind", self.kind, TASK_KINDS)
        for name in (
            "num_devices",
            "initial_devices",
            "train_per_device",
            "eval_per_device",
            "facts_per_device",
            "pairs_per_sequence",
            "num_values",
            "clusters_per_device",
            "key_tokens",
            "topics_per_device",
            "max_tokens",
            "rule_keys",
            "rule_length",
        ):
            v = getattr(self, name)
            require(isinstance(v, int) and v >= 1, f"task.{name}", v, "must be an integer >= 1")
        require(
            self.initial_devices <= self.num_devices,
            "task.initial_devices",
            self.initial_devices,
            f"must be <= task.num_devices={self.num_devices}",
        )
        require(
            self.kind != "facts" or self.pairs_per_sequence <= self.facts_per_device,
            "task.pairs_per_sequence",
            self.pairs_per_sequence,
            f"must be <= task.facts_per_device={self.facts_per_device}",
        )
        check_positive("task.noise", self.noise)
        check_positive("task.alpha", self.alpha)
        require(
            isinstance(self.first_token, int) and self.first_token >= 0,
            "task.first_token",
            self.first_token,
            "must be an integer >= 0",
        )


@dataclass(frozen=True)
class Task:
    """Stacked per-device data. D = pool size.

    train_x : [D, n_train, T] int64 (facts, topics: token ids) or [D, n_train, in] float32 (clusters,
    dirichlet); train_y : [D, n_train, T] int64 with IGNORE_INDEX off the value positions (facts) or
    [D, n_train] int64 labels; eval_x / eval_y likewise with n_eval. label_names: the classes (topics).
    """

    kind: str
    devices: tuple[str, ...]
    initial: tuple[str, ...]
    train_x: np.ndarray
    train_y: np.ndarray
    eval_x: np.ndarray
    eval_y: np.ndarray
    num_classes: int  # output size that the labels index (vocab size for facts)
    label_names: tuple[str, ...] = ()

    @property
    def is_sequence(self) -> bool:
        return self.kind in ("facts", "rule")

    def index(self, devices: Sequence[str]) -> np.ndarray:
        pos = {d: i for i, d in enumerate(self.devices)}
        return np.array([pos[d] for d in devices], dtype=np.int64)


def _facts(cfg: TaskConfig, vocab_size: int, rng: np.random.Generator):
    num_keys = vocab_size - cfg.first_token - cfg.num_values
    need = cfg.num_devices * cfg.facts_per_device
    kt = cfg.key_tokens
    require(
        need <= num_keys**kt,
        "task.facts_per_device",
        cfg.facts_per_device,
        f"{cfg.num_devices} devices x {cfg.facts_per_device} facts need {need} keys of {kt} token(s), the "
        f"vocabulary ({vocab_size}) minus first_token + num_values ({cfg.first_token + cfg.num_values}) "
        f"leaves {num_keys}**{kt} = {num_keys**kt} (raise task.key_tokens)",
    )
    if kt == 1:
        codes = rng.permutation(num_keys)[:need]
    else:
        codes = rng.choice(num_keys**kt, size=need, replace=False)  # distinct key tuples
    digits = (codes[:, None] // num_keys ** np.arange(kt - 1, -1, -1)) % num_keys  # [need, kt]
    keys = digits.reshape(cfg.num_devices, cfg.facts_per_device, kt)
    keys = keys + cfg.first_token + cfg.num_values  # [D, F, kt] token ids
    values = cfg.first_token + rng.integers(0, cfg.num_values, size=keys.shape[:2])  # [D, F]

    def sequences(n: int):
        # each sequence: pairs_per_sequence distinct facts of the device, in random order
        order = np.argsort(rng.random((cfg.num_devices, n, cfg.facts_per_device)), axis=-1)
        pick = order[..., : cfg.pairs_per_sequence]  # [D, n, P]
        k = np.take_along_axis(keys[:, None, :, :], pick[..., None], axis=2)  # [D, n, P, kt]
        v = np.take_along_axis(values[:, None, :], pick, axis=-1)  # [D, n, P]
        x = np.concatenate([k, v[..., None]], axis=-1)  # [D, n, P, kt + 1]: key tokens, then the value
        y = np.full_like(x, IGNORE_INDEX)
        y[..., kt - 1] = v  # the key's last token predicts its value
        shape = (cfg.num_devices, n, cfg.pairs_per_sequence * (kt + 1))  # [D, n, T]
        return x.reshape(shape).astype(np.int64), y.reshape(shape).astype(np.int64)

    tx, ty = sequences(cfg.train_per_device)
    ex, ey = sequences(cfg.eval_per_device)
    return tx, ty, ex, ey, vocab_size


def _clusters(cfg: TaskConfig, in_features: int, num_classes: int, rng: np.random.Generator):
    c = cfg.clusters_per_device
    centres = rng.standard_normal((cfg.num_devices, c, in_features))
    centres *= 2.0 / np.linalg.norm(centres, axis=-1, keepdims=True)  # on a sphere of radius 2
    labels = rng.integers(0, num_classes, size=(cfg.num_devices, c))

    def samples(n: int):
        which = rng.integers(0, c, size=(cfg.num_devices, n))  # [D, n]
        x = np.take_along_axis(centres, which[..., None], axis=1)  # [D, n, in]
        x = x + cfg.noise * rng.standard_normal(x.shape)
        return x.astype(np.float32), np.take_along_axis(labels, which, axis=1).astype(np.int64)

    tx, ty = samples(cfg.train_per_device)
    ex, ey = samples(cfg.eval_per_device)
    return tx, ty, ex, ey, num_classes


def _dirichlet(cfg: TaskConfig, in_features: int, num_classes: int, rng: np.random.Generator):
    centres = rng.standard_normal((num_classes, in_features))
    centres *= 2.0 / np.linalg.norm(centres, axis=-1, keepdims=True)
    props = rng.dirichlet(np.full(num_classes, cfg.alpha), size=cfg.num_devices)  # [D, C]

    def samples(n: int):
        u = rng.random((cfg.num_devices, n, 1))
        y = (u > np.cumsum(props, axis=-1)[:, None, :]).sum(axis=-1)  # inverse-CDF draw, [D, n]
        y = np.minimum(y, num_classes - 1)
        x = centres[y] + cfg.noise * rng.standard_normal((cfg.num_devices, n, in_features))
        return x.astype(np.float32), y.astype(np.int64)

    tx, ty = samples(cfg.train_per_device)
    ex, ey = samples(cfg.eval_per_device)
    return tx, ty, ex, ey, num_classes


def _topics(cfg: TaskConfig, tokenizer, rng: np.random.Generator):
    """chatterbot-corpus (English) topics with at least 40 distinct utterances, whole topics per device."""
    import importlib.resources

    import yaml

    root = importlib.resources.files("chatterbot_corpus") / "data" / "english"
    topics = []
    for f in sorted(root.iterdir(), key=lambda p: p.name):
        if not f.name.endswith(".yml"):
            continue
        data = yaml.safe_load(f.read_text())
        utt = sorted(
            {u.strip() for conv in data.get("conversations", []) for u in conv if isinstance(u, str)}
        )
        if len(utt) >= 40:
            topics.append((str(data["categories"][-1]), utt))
    need = cfg.num_devices * cfg.topics_per_device
    require(
        need <= len(topics),
        "task.topics_per_device",
        cfg.topics_per_device,
        f"{cfg.num_devices} devices x {cfg.topics_per_device} topics need {need}; corpus: {len(topics)}",
    )
    chosen = [topics[i] for i in rng.permutation(len(topics))[:need]]
    names = tuple(name for name, _ in chosen)

    def encode(texts):
        enc = tokenizer(list(texts), padding="max_length", truncation=True, max_length=cfg.max_tokens)
        return np.asarray(enc["input_ids"], dtype=np.int64)

    def draw(pool_by_label, n):
        # n samples per device, labels uniform over the device's topics, sentences with replacement
        xs, ys = [], []
        for d in range(cfg.num_devices):
            labels = d * cfg.topics_per_device + rng.integers(0, cfg.topics_per_device, size=n)
            xs.append([pool_by_label[lab][rng.integers(len(pool_by_label[lab]))] for lab in labels])
            ys.append(labels)
        return np.stack([encode(x) for x in xs]), np.stack(ys).astype(np.int64)

    train, held = [], []
    for _, utt in chosen:  # per topic: 70 % of the distinct sentences for training, the rest for eval
        perm = rng.permutation(len(utt))
        cut = int(round(0.7 * len(utt)))
        train.append([utt[i] for i in perm[:cut]])
        held.append([utt[i] for i in perm[cut:]])
    tx, ty = draw(train, cfg.train_per_device)
    ex, ey = draw(held, cfg.eval_per_device)
    return tx, ty, ex, ey, need, names


def build_task(
    cfg: TaskConfig,
    *,
    vocab_size: int = 0,
    in_features: int = 0,
    num_classes: int = 0,
    tokenizer=None,
    seed: int,
) -> Task:
    """Generate the task's data from ``seed`` (same seed, same data). Sizes come from the model card:
    ``vocab_size`` for ``facts`` and ``rule``; ``in_features`` and ``num_classes`` for the classifiers;
    ``topics`` needs the encoder's ``tokenizer`` (its labels are the topics, num_classes = devices x
    topics_per_device)."""
    rng = stream("task_data", seed)
    if cfg.kind == "topics":
        require(
            tokenizer is not None, "task.kind", cfg.kind, "needs an encoder model with a tokenizer (minilm)"
        )
        tx, ty, ex, ey, nc, names = _topics(cfg, tokenizer, rng)
        devices = tuple(f"d{i}" for i in range(cfg.num_devices))
        return Task(cfg.kind, devices, devices[: cfg.initial_devices], tx, ty, ex, ey, nc, names)
    if cfg.kind in ("facts", "rule"):
        require(
            vocab_size > 0, "task.kind", cfg.kind, "needs a language model with a vocabulary (e.g. tiny-lm)"
        )
        require(
            cfg.first_token < vocab_size,
            "task.first_token",
            cfg.first_token,
            f"must be < the model's vocabulary ({vocab_size})",
        )
        require(
            vocab_size > cfg.first_token + cfg.num_values,
            "task.num_values",
            cfg.num_values,
            f"must be < the model's vocabulary ({vocab_size}) minus task.first_token ({cfg.first_token})",
        )
        if cfg.kind == "rule":
            from wirelora.learning.task_rule import rule_task

            parts = rule_task(cfg, vocab_size, rng, ignore_index=IGNORE_INDEX)
        else:
            parts = _facts(cfg, vocab_size, rng)
    else:
        require(
            in_features >= 1 and num_classes >= 2,
            "task.kind",
            cfg.kind,
            "needs a classifier model (in_features and num_classes)",
        )
        parts = (_clusters if cfg.kind == "clusters" else _dirichlet)(cfg, in_features, num_classes, rng)
    tx, ty, ex, ey, nc = parts
    devices = tuple(f"d{i}" for i in range(cfg.num_devices))
    return Task(cfg.kind, devices, devices[: cfg.initial_devices], tx, ty, ex, ey, nc)


def event_sets(
    members_before: Sequence[str], leave: Sequence[str], join: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    """docs/method.md §3: retain = M_t \\ U_t, join = J_t, forget = U_t (device names; empty tuple = no such
    set)."""
    return {
        "retain": tuple(d for d in members_before if d not in leave),
        "join": tuple(join),
        "forget": tuple(leave),
    }
