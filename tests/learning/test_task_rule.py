"""The rule task: each device translates lists of its own keys by its own dictionary; eval lists are new."""

from __future__ import annotations

import numpy as np
import pytest

from wirelora.config import ConfigError
from wirelora.learning.task_rule import BOS, rule_chance
from wirelora.learning.tasks import IGNORE_INDEX, TaskConfig, build_task

CFG = TaskConfig(
    kind="rule", num_devices=6, initial_devices=6, num_values=8, train_per_device=64, eval_per_device=32
)


def test_layout_labels_and_one_dictionary_per_device():
    t = build_task(CFG, vocab_size=128, seed=0)
    length, keys, values = CFG.rule_length, CFG.rule_keys, CFG.num_values
    assert t.is_sequence and t.train_x.shape == (6, 64, 1 + 2 * length)
    dictionaries = []
    for u in range(6):
        first = CFG.first_token + values + keys * u
        table = {}
        for x, y in ((t.train_x[u], t.train_y[u]), (t.eval_x[u], t.eval_y[u])):
            assert (x[:, 0] == BOS).all()
            lists, answers = x[:, 1 : 1 + length], x[:, 1 + length :]
            assert lists.min() >= first and lists.max() < first + keys  # u's own key range
            assert answers.min() >= CFG.first_token and answers.max() < CFG.first_token + values
            # each position from the last list token on predicts the next answer token, nothing else
            assert (y[:, length : 2 * length] == answers).all()
            assert (np.delete(y, np.s_[length : 2 * length], axis=-1) == IGNORE_INDEX).all()
            for k, v in zip(lists.ravel(), answers.ravel()):  # one dictionary explains every answer
                assert table.setdefault(int(k), int(v)) == int(v)
        assert len(table) == keys  # every key occurs, so every eval answer was taught in training
        dictionaries.append(tuple(table[k] for k in sorted(table)))
    assert len(set(dictionaries)) == 6  # the devices' dictionaries differ


def test_eval_inputs_are_never_training_inputs():
    t = build_task(CFG, vocab_size=128, seed=3)
    for u in range(6):
        train = {tuple(r) for r in t.train_x[u, :, 1 : 1 + CFG.rule_length]}
        held = {tuple(r) for r in t.eval_x[u, :, 1 : 1 + CFG.rule_length]}
        assert not train & held
        assert len(held) > 0.9 * CFG.eval_per_device  # fresh lists, not a few repeated ones


def test_same_seed_same_data_and_chance():
    t = build_task(CFG, vocab_size=128, seed=0)
    assert rule_chance(CFG) == 1 / 8
    assert np.array_equal(t.train_x, build_task(CFG, vocab_size=128, seed=0).train_x)
    assert not np.array_equal(t.train_x, build_task(CFG, vocab_size=128, seed=1).train_x)


def test_bad_sizes_are_one_line_errors():
    with pytest.raises(ConfigError, match="task.rule_length"):
        build_task(TaskConfig(kind="rule", rule_keys=2, rule_length=2), vocab_size=128, seed=0)
    with pytest.raises(ConfigError, match="task.rule_keys"):
        build_task(TaskConfig(kind="rule", rule_keys=30), vocab_size=128, seed=0)


def test_shipped_config_builds_the_rule_task():
    from wirelora.experiments.runner import load_run_config

    cfg = load_run_config("leave-only-rule")
    assert cfg.task.kind == "rule" and cfg.oracle.enabled and [e.round for e in cfg.events] == [100]
    t = build_task(cfg.task, vocab_size=128, seed=cfg.seed)
    n = 1 + 2 * cfg.task.rule_length
    assert t.train_x.shape == (6, cfg.task.train_per_device, n) and t.eval_x.shape[:2] == (6, 32)
