"""Bring your own model: every card or checkpoint problem is a one-line ConfigError naming the card field (or
the task field the card cannot serve), and a card's own layer-group names work without listing every layer."""

import json

import pytest
from hf_models import facts_run, tiny_gpt2

from wirelora.config import ConfigError, from_dict
from wirelora.learning.config import RunConfig
from wirelora.learning.models import ModelCard, build_model, load_card
from wirelora.learning.state import TrainerState
from wirelora.lora import OrthogonalLoRA

pytest.importorskip("transformers")


def _card(tmp_path, text):
    path = tmp_path / "card.yaml"
    path.write_text(text)
    return path


def _state(card, **task):
    raw = facts_run(card)
    raw["task"].update(task)
    if task.get("kind") not in (None, "facts", "rule"):
        raw["events"] = []
    return TrainerState(from_dict(RunConfig, raw, prefix=""), seed=0)


def _one_line(match):
    return pytest.raises(ConfigError, match=match)


def test_card_without_kind_names_the_key(tmp_path):
    card = _card(tmp_path, "name: x\narchitecture: hf\ntarget_modules: [c_attn]\npath: gpt2\n")
    with _one_line(r"^model card '.*card.yaml': missing key kind: one of classifier, causal-lm, encoder$"):
        load_card(card)


def test_from_dict_names_a_missing_required_key():
    with _one_line(
        r"^missing key kind: required \(required keys: name, architecture, kind, target_modules\)$"
    ):
        from_dict(ModelCard, {"name": "x", "architecture": "mlp", "target_modules": ["fc1"]})


def test_mlp_card_must_be_a_classifier():
    with _one_line(r"^kind='causal-lm': a TinyMLP \(architecture mlp\) classifies$"):
        ModelCard(name="x", architecture="mlp", kind="causal-lm", target_modules=("fc1",))


def test_own_group_names_split_by_depth(tmp_path):
    card = tiny_gpt2(
        tmp_path,
        layers=4,
        card="name: g\narchitecture: hf\nkind: causal-lm\ntarget_modules: [c_attn]\n"
        "ranks: {low: 1, high: 3}\nmax_devices: 4\npath: gpt2\n",
    )
    model, c = build_model(card)
    ol = OrthogonalLoRA(model, **c.lora_kwargs())
    assert ol.groups == {
        "low": ["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"],
        "high": ["transformer.h.2.attn.c_attn", "transformer.h.3.attn.c_attn"],
    }
    assert [ol.rank(n) for n in ol.module_names] == [1, 1, 3, 3]
    state = _state(card)  # and a run's state takes them (the schedule is per group)
    assert state.group_names == ["low", "high"]


def test_more_own_groups_than_depths_is_refused(tmp_path):
    card = tiny_gpt2(
        tmp_path,
        card="name: g\narchitecture: hf\nkind: causal-lm\ntarget_modules: [c_attn]\n"
        "ranks: {a: 1, b: 1, c: 1}\npath: gpt2\n",
    )
    model, c = build_model(card)
    with pytest.raises(ValueError, match=r"layer groups \['a', 'b', 'c'\]: 3 groups but only 2 layer depth"):
        OrthogonalLoRA(model, **c.lora_kwargs())


def test_task_the_card_cannot_serve(tmp_path):
    gpt2 = tiny_gpt2(tmp_path)
    with _one_line(
        r"^task.kind='topics': model card 'tiny-gpt2' has kind 'causal-lm', which serves task.kind facts"
    ):
        _state(gpt2, kind="topics")
    encoder = _card(
        tmp_path, "name: enc\narchitecture: hf\nkind: encoder\ntarget_modules: [c_attn]\npath: gpt2\n"
    )
    with _one_line(
        r"^task.kind='facts': model card 'enc' has kind 'encoder', which serves task.kind topics$"
    ):
        _state(encoder)
    classifier = _card(
        tmp_path, "name: cls\narchitecture: hf\nkind: classifier\ntarget_modules: [c_attn]\npath: gpt2\n"
    )
    with _one_line(r"^task.kind='clusters': model card 'cls' has kind 'classifier', which serves no task"):
        _state(classifier, kind="clusters")


def test_checkpoint_without_tokenizer_files_names_the_path(tmp_path):
    tiny_gpt2(tmp_path)  # config.json + weights, no tokenizer files
    encoder = _card(
        tmp_path, "name: enc\narchitecture: hf\nkind: encoder\ntarget_modules: [c_attn]\npath: gpt2\n"
    )
    with _one_line(r"^path='.*gpt2': no tokenizer files \(tokenizer.json, vocab.txt.*model card 'enc' needs"):
        _state(encoder, kind="topics", num_devices=2, initial_devices=2)


def test_encoder_card_without_a_checkpoint_has_no_tokenizer(tmp_path):
    card = _card(
        tmp_path,
        "name: b\narchitecture: bert\nkind: encoder\ntarget_modules: [query]\nranks: {early: 1, mid: 1, "
        "late: 1}\nconfig: {hidden_size: 32, num_hidden_layers: 3, num_attention_heads: 2, "
        "intermediate_size: 64, vocab_size: 64}\n",
    )
    with _one_line(
        r"^path=None: model card 'b' \(kind encoder\) needs a checkpoint directory with its tokenizer"
    ):
        _state(card, kind="topics", num_devices=2, initial_devices=2)


def test_unloadable_checkpoint_names_the_path(tmp_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    card = _card(tmp_path, "name: z\narchitecture: hf\nkind: causal-lm\ntarget_modules: [q]\npath: ckpt\n")
    with _one_line(r"^path='.*ckpt': transformers cannot load it as 'causal-lm': "):
        build_model(card)


def test_card_max_devices_bounds_the_slots(tmp_path):
    card = tiny_gpt2(tmp_path)  # max_devices: 4
    assert _state(card, num_devices=3, initial_devices=3).adapter.max_devices == 3  # default: the task's pool
    with _one_line(r"^task.num_devices=5: the model card '.*gpt2.yaml' has slots for at most max_devices=4"):
        _state(card, num_devices=5)
