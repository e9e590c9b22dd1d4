"""The ``rule`` task (tiny language model): each device owns a rule, and held-out inputs are new inputs.

Device u owns ``rule_device_tokens`` tokens of its own (disjoint across devices) and a rule f_u, a random map
from the ``rule_contents`` shared content tokens to the ``num_values`` value tokens, drawn for it alone. An
input is a pair (t, c): a token t of the device's own and a content token c; its one right answer is f_u(c).
A sequence is ``t1 c1 v1 t2 c2 v2 …`` (``pairs_per_sequence`` distinct pairs of one device) and the loss is
the next-token loss on the value positions only (each c predicts its v).

Each device's grid of ``rule_device_tokens × rule_contents`` inputs is split once: a fraction
``rule_heldout`` of the pairs occurs only in eval sequences, the rest only in training sequences. So every
eval input is an input the model never trained on, and it is answered right only by a model that learned
that u's tokens share u's rule (not by recalling a list). A model that never saw u answers at chance
(1 / num_values): it has no way to tell f_u from any other random map.
"""

from __future__ import annotations

import numpy as np

from wirelora.config import require
from wirelora.learning.tasks import IGNORE_INDEX

__all__ = ["rule_task"]


def rule_task(cfg, vocab_size: int, rng: np.random.Generator):
    """(train_x, train_y, eval_x, eval_y, num_classes) of the ``rule`` task (see the module docstring)."""
    d, c, k = cfg.num_devices, cfg.rule_contents, cfg.rule_device_tokens
    need = cfg.first_token + cfg.num_values + c + d * k
    require(
        need <= vocab_size,
        "task.rule_device_tokens",
        k,
        f"{d} devices x {k} tokens + {c} contents + {cfg.num_values} values + first_token "
        f"{cfg.first_token} need {need} tokens; the vocabulary has {vocab_size}",
    )
    grid = k * c
    held = int(round(cfg.rule_heldout * grid))
    require(
        cfg.pairs_per_sequence <= min(held, grid - held),
        "task.pairs_per_sequence",
        cfg.pairs_per_sequence,
        f"must be <= the held-out ({held}) and training ({grid - held}) inputs of a device",
    )
    content0 = cfg.first_token + cfg.num_values
    device0 = content0 + c
    rules = rng.integers(0, cfg.num_values, size=(d, c))  # f_u(c) - first_token, [D, C]
    split = np.argsort(rng.random((d, grid)), axis=1)  # per device: a random order of its grid
    eval_pairs, train_pairs = split[:, :held], split[:, held:]  # [D, held], [D, grid - held]

    def sequences(pairs: np.ndarray, n: int):
        # each sequence: pairs_per_sequence distinct inputs of the device's split, in random order
        order = np.argsort(rng.random((d, n, pairs.shape[1])), axis=-1)[..., : cfg.pairs_per_sequence]
        code = np.take_along_axis(pairs[:, None, :], order, axis=-1)  # [D, n, P] grid indices
        tok, con = code // c, code % c
        t = device0 + np.arange(d)[:, None, None] * k + tok
        v = cfg.first_token + np.take_along_axis(rules[:, None, :], con, axis=-1)
        x = np.stack([t, content0 + con, v], axis=-1)  # [D, n, P, 3]
        y = np.full_like(x, IGNORE_INDEX)
        y[..., 1] = v  # the content token predicts the value
        shape = (d, n, cfg.pairs_per_sequence * 3)
        return x.reshape(shape).astype(np.int64), y.reshape(shape).astype(np.int64)

    tx, ty = sequences(train_pairs, cfg.train_per_device)
    ex, ey = sequences(eval_pairs, cfg.eval_per_device)
    return tx, ty, ex, ey, vocab_size
