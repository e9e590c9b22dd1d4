import numpy as np
import pytest

from wirelora.config import ConfigError
from wirelora.learning.tasks import IGNORE_INDEX, TaskConfig, build_task, event_sets


def test_facts_disjoint_keys_and_value_positions():
    cfg = TaskConfig(num_devices=5, initial_devices=4, facts_per_device=6, pairs_per_sequence=3)
    t = build_task(cfg, vocab_size=128, seed=0)
    assert t.train_x.shape == (5, 64, 6) and t.eval_x.shape == (5, 32, 6)
    keys = [set(t.train_x[d, :, 0::2].ravel()) for d in range(5)]
    for i in range(5):
        assert len(keys[i]) == 6
        for j in range(i):
            assert not keys[i] & keys[j]  # separable: no shared key token
    # labels: the value after each key, ignored elsewhere; values are fixed per (device, key)
    assert np.all(t.train_y[..., 1::2] == IGNORE_INDEX)
    assert np.array_equal(t.train_y[..., 0::2], t.train_x[..., 1::2])
    for d in range(5):
        k, v = t.train_x[d, :, 0::2].ravel(), t.train_x[d, :, 1::2].ravel()
        for key in np.unique(k):
            assert len(np.unique(v[k == key])) == 1
    assert t.train_x.min() >= cfg.first_token  # special tokens never used
    assert t.devices == ("d0", "d1", "d2", "d3", "d4") and t.initial == ("d0", "d1", "d2", "d3")


def test_tasks_are_seeded():
    cfg = TaskConfig(kind="clusters")
    a = build_task(cfg, in_features=32, num_classes=10, seed=1)
    b = build_task(cfg, in_features=32, num_classes=10, seed=1)
    c = build_task(cfg, in_features=32, num_classes=10, seed=2)
    assert np.array_equal(a.train_x, b.train_x) and not np.array_equal(a.train_x, c.train_x)


def test_clusters_and_dirichlet_shapes():
    t = build_task(TaskConfig(kind="clusters"), in_features=32, num_classes=10, seed=0)
    assert t.train_x.shape == (8, 64, 32) and t.train_y.shape == (8, 64) and t.train_y.max() < 10
    d = build_task(TaskConfig(kind="dirichlet", alpha=0.1), in_features=32, num_classes=10, seed=0)
    # a small alpha concentrates each device on few labels
    top = [np.bincount(d.train_y[i], minlength=10).max() / 64 for i in range(8)]
    assert np.mean(top) > 0.5


def test_too_many_facts_for_the_vocabulary():
    with pytest.raises(ConfigError, match="raise task.key_tokens"):
        build_task(TaskConfig(num_devices=8, facts_per_device=20), vocab_size=128, seed=0)


def test_event_sets():
    assert event_sets(["d0", "d1", "d2"], ["d0"], ["d5"]) == {
        "retain": ("d1", "d2"),
        "join": ("d5",),
        "forget": ("d0",),
    }


def test_two_token_keys_for_many_devices():
    cfg = TaskConfig(
        num_devices=128, initial_devices=128, facts_per_device=2, pairs_per_sequence=2, key_tokens=2
    )
    t = build_task(cfg, vocab_size=128, seed=0)
    assert t.train_x.shape == (128, 64, 6)  # 2 pairs of (key, key, value)
    pairs = [set(map(tuple, t.train_x[d].reshape(-1, 3)[:, :2])) for d in range(128)]
    assert all(len(p) == 2 for p in pairs)
    assert len(set().union(*pairs)) == 256  # every device's keys are its own
    assert np.all(t.train_y[..., 0::3] == IGNORE_INDEX) and np.all(t.train_y[..., 2::3] == IGNORE_INDEX)
    assert np.array_equal(t.train_y[..., 1::3], t.train_x[..., 2::3])


def test_topics_from_chatterbot_corpus():
    from wirelora.learning.models import build_tokenizer

    tok = build_tokenizer("minilm")
    cfg = TaskConfig(kind="topics", num_devices=3, initial_devices=3, train_per_device=10, eval_per_device=5)
    t = build_task(cfg, tokenizer=tok, seed=0)
    assert t.train_x.shape == (3, 10, 24) and t.num_classes == 6 and len(set(t.label_names)) == 6
    for d in range(3):  # each device holds its own two topics
        assert set(t.train_y[d]) <= {2 * d, 2 * d + 1} and set(t.eval_y[d]) <= {2 * d, 2 * d + 1}
    train = {tuple(r) for r in t.train_x.reshape(-1, 24)}
    held = {tuple(r) for r in t.eval_x.reshape(-1, 24)}
    assert not train & held  # eval sentences were never trained on
    assert np.array_equal(t.train_x, build_task(cfg, tokenizer=tok, seed=0).train_x)
