"""The ``rule`` task (tiny language model): each device owns a dictionary, and held-out inputs are new lists.

Device u owns ``rule_keys`` key tokens of its own (disjoint across devices) and a dictionary σ_u that sends
each of them to one of ``num_values`` value tokens shared by all devices, drawn for u alone. An input is a
list of ``rule_length`` of u's keys drawn uniformly with repetition; its one right answer is the list
translated by σ_u. A sequence is ``bos x_1 … x_L σ_u(x_1) … σ_u(x_L)`` and the loss is the next-token loss
on the answer positions only: answering position i needs a skill every device shares (look back L tokens)
and u's own knowledge (σ_u).

There are ``rule_keys ** rule_length`` lists per device, far more than any device holds, and no eval list of
u occurs among u's training lists: every eval input is new, and it is answered right only by a model that
learned u's dictionary. A model that never saw u has no reason to prefer one value for u's keys: it answers
at chance, 1 / num_values.
"""

from __future__ import annotations

import numpy as np

from wirelora.config import require

__all__ = ["rule_task", "rule_chance"]

BOS = 1  # the tiny LM's begin-of-sequence token


def rule_chance(cfg) -> float:
    """The expected accuracy on u's data of a model that does not know u's dictionary: 1 / num_values."""
    return 1.0 / cfg.num_values


def _lists(rng, d: int, n: int, keys: int, length: int, exclude: np.ndarray | None) -> np.ndarray:
    """[d, n, length] key indices; with ``exclude`` ([d, m, length]) no list of device u is among u's."""
    x = rng.integers(0, keys, size=(d, n, length))
    if exclude is None:
        return x
    weights = keys ** np.arange(length)
    for u in range(d):
        while True:
            clash = np.isin(x[u] @ weights, exclude[u] @ weights)
            if not clash.any():
                break
            x[u, clash] = rng.integers(0, keys, size=(int(clash.sum()), length))
    return x


def rule_task(cfg, vocab_size: int, rng: np.random.Generator, *, ignore_index: int):
    """(train_x, train_y, eval_x, eval_y, num_classes) of the ``rule`` task (see the module docstring)."""
    d, keys, values, length = cfg.num_devices, cfg.rule_keys, cfg.num_values, cfg.rule_length
    need = cfg.first_token + values + d * keys
    require(
        need <= vocab_size,
        "task.rule_keys",
        keys,
        f"{d} devices x {keys} keys + {values} values + first_token {cfg.first_token} need {need} tokens; "
        f"the vocabulary has {vocab_size}",
    )
    lists = keys**length
    require(
        cfg.train_per_device + cfg.eval_per_device <= lists // 2,
        "task.rule_length",
        length,
        f"{keys}**{length} = {lists} lists are too few for {cfg.train_per_device} train + "
        f"{cfg.eval_per_device} eval lists per device (raise task.rule_keys or task.rule_length)",
    )
    sigma = rng.integers(0, values, size=(d, keys))  # σ_u: key index -> value index, [D, keys]
    first_key = cfg.first_token + values + keys * np.arange(d)  # [D] u's key range starts here

    def sequences(x: np.ndarray):
        n = x.shape[1]
        answer = np.take_along_axis(np.broadcast_to(sigma[:, None, :], (d, n, keys)), x, axis=-1)
        body = np.concatenate([first_key[:, None, None] + x, cfg.first_token + answer], axis=-1)  # [D, n, 2L]
        seq = np.concatenate([np.full((d, n, 1), BOS), body], axis=-1)
        y = np.full_like(seq, ignore_index)
        y[..., length : 2 * length] = seq[..., length + 1 :]  # position p predicts answer token p + 1
        return seq.astype(np.int64), y.astype(np.int64)

    train = _lists(rng, d, cfg.train_per_device, keys, length, None)
    held = _lists(rng, d, cfg.eval_per_device, keys, length, train)
    tx, ty = sequences(train)
    ex, ey = sequences(held)
    return tx, ty, ex, ey, vocab_size
