"""The rule task: each device's answers are its own permutation of the input list, and eval inputs are new."""

from __future__ import annotations

import numpy as np
import pytest

from wirelora.config import ConfigError
from wirelora.learning.task_rule import rule_chance
from wirelora.learning.tasks import IGNORE_INDEX, TaskConfig, build_task

CFG = TaskConfig(kind="rule", num_devices=6, initial_devices=6, train_per_device=64, eval_per_device=32)


def test_layout_labels_and_rule():
    t = build_task(CFG, vocab_size=128, seed=0)
    length, c = CFG.rule_length, CFG.rule_contents
    assert t.is_sequence and t.train_x.shape == (6, 64, 1 + 2 * length)
    markers = t.train_x[:, :, 0]
    assert (markers == (CFG.first_token + c + np.arange(6))[:, None]).all()  # one marker per device
    for x, y in ((t.train_x, t.train_y), (t.eval_x, t.eval_y)):
        lists, answers = x[..., 1 : 1 + length], x[..., 1 + length :]
        assert lists.min() >= CFG.first_token and lists.max() < CFG.first_token + c
        # the labels: each position from the last list token on predicts the next answer token
        assert (y[..., length : 2 * length] == answers).all()
        assert (np.delete(y, np.s_[length : 2 * length], axis=-1) == IGNORE_INDEX).all()
        for u in range(6):  # one permutation per device explains every answer
            i = next(i for i in range(x.shape[1]) if len(set(lists[u, i])) == length)  # no repeats
            perm = [int(np.flatnonzero(lists[u, i] == a)[0]) for a in answers[u, i]]
            ok = np.take_along_axis(lists[u], np.array(perm)[None, :].repeat(x.shape[1], 0), axis=1)
            assert (ok == answers[u]).all()


def test_eval_inputs_are_never_training_inputs():
    t = build_task(CFG, vocab_size=128, seed=3)
    for u in range(6):
        train = {tuple(r) for r in t.train_x[u, :, 1 : 1 + CFG.rule_length]}
        held = {tuple(r) for r in t.eval_x[u, :, 1 : 1 + CFG.rule_length]}
        assert not train & held
        assert len(held) > 0.9 * CFG.eval_per_device  # fresh lists, not a few repeated ones


def test_devices_rules_differ_and_chance():
    t = build_task(CFG, vocab_size=128, seed=0)
    assert rule_chance(CFG) == 0.25
    same = build_task(CFG, vocab_size=128, seed=0)
    assert np.array_equal(t.train_x, same.train_x)  # same seed, same data


def test_bad_sizes_are_one_line_errors():
    with pytest.raises(ConfigError, match="task.rule_length"):
        build_task(TaskConfig(kind="rule", rule_contents=2, rule_length=2), vocab_size=128, seed=0)
    with pytest.raises(ConfigError, match="task.rule_contents"):
        build_task(TaskConfig(kind="rule", rule_contents=200), vocab_size=128, seed=0)


def test_shipped_config_builds_the_rule_task():
    from wirelora.experiments.runner import load_run_config

    cfg = load_run_config("leave-only-rule")
    assert cfg.task.kind == "rule" and cfg.oracle.enabled and [e.round for e in cfg.events] == [50]
    t = build_task(cfg.task, vocab_size=128, seed=cfg.seed)
    assert t.train_x.shape == (6, 64, 9) and t.eval_x.shape == (6, 32, 9)
