"""The ``rule`` task (tiny language model): each device owns a rule, and held-out inputs are new inputs.

Device u owns a marker token of its own and a rule: a random permutation π_u of ``rule_length`` positions,
drawn for it alone. An input is a list of ``rule_length`` content tokens drawn uniformly from
``rule_contents`` shared tokens; its one right answer is the list rearranged by π_u. A sequence is
``m_u x_1 … x_L x_π(1) … x_π(L)`` and the loss is the next-token loss on the answer positions only.

There are ``rule_contents ** rule_length`` inputs, far more than any device holds, and no eval list of u
occurs among u's training lists: every eval input is new, and it is answered right only by a model that
learned u's rule (a list of memorised items does not help). A model that never saw u does not know π_u: it
answers at chance, 1 / rule_length per position at best (copying some list token into each answer), and
1 / rule_contents if it does not even copy.
"""

from __future__ import annotations

import numpy as np

from wirelora.config import require

__all__ = ["rule_task", "rule_chance"]


def rule_chance(cfg) -> float:
    """The best accuracy of a model that does not know the device's permutation (it copies list tokens):
    1 / rule_length (one that does not copy: 1 / rule_contents)."""
    return 1.0 / cfg.rule_length


def rule_task(cfg, vocab_size: int, rng: np.random.Generator, *, ignore_index: int):
    """(train_x, train_y, eval_x, eval_y, num_classes) of the ``rule`` task (see the module docstring)."""
    d, c, length = cfg.num_devices, cfg.rule_contents, cfg.rule_length
    need = cfg.first_token + c + d
    require(
        need <= vocab_size,
        "task.rule_contents",
        c,
        f"{c} contents + {d} device markers + first_token {cfg.first_token} need {need} tokens; the "
        f"vocabulary has {vocab_size}",
    )
    inputs = c**length
    require(
        cfg.train_per_device + cfg.eval_per_device <= inputs // 2,
        "task.rule_length",
        length,
        f"{c}**{length} = {inputs} inputs are too few for {cfg.train_per_device} train + "
        f"{cfg.eval_per_device} eval lists per device (raise task.rule_contents or task.rule_length)",
    )
    perms = np.stack([rng.permutation(length) for _ in range(d)])  # π_u, [D, L]
    marker = cfg.first_token + c + np.arange(d)  # [D]
    weights = c ** np.arange(length)

    def lists(n: int, exclude: np.ndarray | None) -> np.ndarray:
        x = rng.integers(0, c, size=(d, n, length))  # [D, n, L] content indices
        if exclude is not None:  # redraw the eval lists that a device also has in training
            for u in range(d):
                while True:
                    clash = np.isin(x[u] @ weights, exclude[u] @ weights)
                    if not clash.any():
                        break
                    x[u, clash] = rng.integers(0, c, size=(int(clash.sum()), length))
        return x

    def sequences(x: np.ndarray):
        n = x.shape[1]
        answer = np.take_along_axis(x, np.broadcast_to(perms[:, None, :], x.shape), axis=-1)
        tokens = cfg.first_token + np.concatenate([x, answer], axis=-1)  # [D, n, 2L]
        seq = np.concatenate([np.broadcast_to(marker[:, None, None], (d, n, 1)), tokens], axis=-1)
        y = np.full_like(seq, ignore_index)
        y[..., length : 2 * length] = seq[..., length + 1 :]  # each position predicts the next answer token
        return seq.astype(np.int64), y.astype(np.int64)

    train = lists(cfg.train_per_device, None)
    held = lists(cfg.eval_per_device, train)
    tx, ty = sequences(train)
    ex, ey = sequences(held)
    return tx, ty, ex, ey, vocab_size
