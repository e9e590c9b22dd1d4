"""Base models: cards, deterministic builds, the tiny LM, local HF checkpoints, and OrthogonalLoRA on them."""

import pytest
import torch

from wirelora.config import ConfigError
from wirelora.learning.models import ModelCard, TinyMLP, available_models, build_model, load_card
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


def test_tiny_lm_shapes_groups_and_exact_leave():
    model, card = build_model("tiny-lm")
    assert type(model).__name__ == "LlamaForCausalLM"
    ol = OrthogonalLoRA(model, **card.lora_kwargs())
    assert len(ol.module_names) == 12
    assert {g: len(v) for g, v in ol.groups.items()} == {"early": 4, "mid": 4, "late": 4}
    assert ol.layer_groups["model.layers.5.self_attn.v_proj"] == "late"
    assert ol.basis_matrix("model.layers.5.self_attn.q_proj").shape == (128, 128)
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 128, (2, 24), generator=gen)
    base = model(input_ids=ids).logits
    for d in ("a", "b", "c"):
        ol.add_device(d)
    assert torch.equal(model(input_ids=ids).logits, base)  # zero blocks: the base model's outputs
    for n in ol.module_names:
        for d in ol.members:
            ol.block(d, n).copy_(0.05 * torch.randn(ol.block(d, n).shape, generator=gen))
    state_before = ol.adapter_state()
    ol.remove_device("b")
    for n in ol.module_names:
        cols = slice(ol.rank(n), 2 * ol.rank(n))
        assert torch.count_nonzero(ol.adapter_state()[n][:, cols]) == 0
        others = torch.cat([state_before[n][:, : cols.start], state_before[n][:, cols.stop :]], 1)
        now = ol.adapter_state()[n]
        assert torch.equal(torch.cat([now[:, : cols.start], now[:, cols.stop :]], 1), others)
    ref_model, _ = build_model("tiny-lm")
    ref = OrthogonalLoRA(ref_model, **card.lora_kwargs())
    ref.add_device("a", slot=0)
    ref.add_device("c", slot=2)
    ref.load_adapter_state(ol.adapter_state())
    assert torch.equal(ref_model(input_ids=ids).logits, model(input_ids=ids).logits)


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
