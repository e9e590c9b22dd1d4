"""OrthogonalLoRA -> a standard peft adapter + a Hugging Face base: PeftModel.from_pretrained reproduces the
adapted model's logits (and merge_and_unload does too), compact or full width, slotted or independent."""

import json

import pytest
import torch

from wirelora.learning.models import build_model
from wirelora.lora import OrthogonalLoRA
from wirelora.lora.peft_export import export_base, export_slots

peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")


def _adapted(basis="slotted", scaling=1.0):
    model, card = build_model("tiny-lm", seed=0)
    ol = OrthogonalLoRA(model, basis=basis, seed=3, scaling=scaling, **card.lora_kwargs())
    gen = torch.Generator().manual_seed(0)
    for dev in ("d0", "d1", "d2"):
        ol.add_device(dev)
    for name in ol.module_names:
        for dev in ol.members:
            blk = ol.block(dev, name)
            blk.copy_(0.05 * torch.randn(blk.shape, generator=gen))
    return ol


def _tokens():
    return torch.randint(3, 128, (3, 12), generator=torch.Generator().manual_seed(1))


def _reload(tmp_path, ol, compact):
    ol.to_peft(tmp_path / "adapter", compact=compact)
    export_base(ol, tmp_path / "base")
    base = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "base"))
    return peft.PeftModel.from_pretrained(base, str(tmp_path / "adapter")).eval()


@torch.no_grad()
def _logits(model, ids):
    return model(input_ids=ids).logits


@pytest.mark.parametrize("compact", [True, False])
def test_reload_reproduces_logits_and_merge(tmp_path, compact):
    ol = _adapted(scaling=0.75)
    ids = _tokens()
    want = _logits(ol.model, ids)
    with ol.peft_enabled(False):
        assert not torch.equal(_logits(ol.model, ids), want)  # the adapter does change the model
    got_model = _reload(tmp_path, ol, compact)
    got = _logits(got_model, ids)
    if compact:
        assert (got - want).abs().max().item() <= 1e-5
    else:  # the same tensors, the same peft forward: bit for bit
        assert torch.equal(got, want)
    merged = got_model.merge_and_unload()
    assert not any("lora_" in k for k in merged.state_dict())
    assert (_logits(merged, ids) - want).abs().max().item() <= 1e-5


def test_compact_keeps_member_columns_only(tmp_path):
    ol = _adapted()
    ol.remove_device("d1")  # slotted: block zeroed exactly, the slot is free again
    assert export_slots(ol) == [0, 2]
    out = ol.to_peft(tmp_path / "adapter")
    config = json.loads((out / "adapter_config.json").read_text())
    from safetensors.torch import load_file

    tensors = load_file(str(out / "adapter_model.safetensors"))
    for name in ol.module_names:
        r = ol.rank(name)
        key = next(k for k in config["rank_pattern"] if name.endswith(k.replace("\\", "")))
        assert config["rank_pattern"][key] == 2 * r
        b = tensors[f"base_model.model.{name}.lora_B.weight"]
        a = tensors[f"base_model.model.{name}.lora_A.weight"]
        assert b.shape == (ol.lora_layer(name).out_features, 2 * r)
        assert torch.equal(b[:, :r], ol.block("d0", name))
        assert torch.equal(b[:, r:], ol.block("d2", name))
        assert torch.equal(a[r:], ol.basis("d2", name).T)
    ids = _tokens()
    base = transformers.AutoModelForCausalLM.from_pretrained(str(export_base(ol, tmp_path / "base")))
    got = _logits(peft.PeftModel.from_pretrained(base, str(out)).eval(), ids)
    assert (got - _logits(ol.model, ids)).abs().max().item() <= 1e-5


def test_independent_retired_slot_is_kept(tmp_path):
    ol = _adapted(basis="independent")
    ol.remove_device("d1")  # independent: a residual stays in slot 1, which is retired
    assert ol.retired_slots == [1]
    assert export_slots(ol) == [0, 1, 2]
    ids = _tokens()
    want = _logits(ol.model, ids)
    got = _logits(_reload(tmp_path, ol, compact=True), ids)
    assert (got - want).abs().max().item() <= 1e-5
    # a members-only export drops the residual: measurably wrong, which is why retired slots are kept
    ol2 = _adapted(basis="independent")
    ol2.remove_device("d1")
    for name in ol2.module_names:
        ol2.b_weight(name).detach()[:, ol2.slots.columns(1, ol2.rank(name))] = 0
    assert (_logits(ol2.model, ids) - want).abs().max().item() > 1e-4


def test_base_export_strips_lora_layers(tmp_path):
    ol = _adapted()
    out = export_base(ol, tmp_path / "base")
    from safetensors import safe_open

    with safe_open(str(out / "model.safetensors"), framework="pt") as f:
        keys = list(f.keys())
    assert not any("lora_" in k or "base_layer" in k for k in keys)
    assert any(k.endswith("q_proj.weight") for k in keys)
    # the adapted model itself is untouched (still has its LoRA layers)
    assert hasattr(ol.lora_layer(ol.module_names[0]), "lora_A")


def test_empty_compact_export_is_refused(tmp_path):
    model, card = build_model("tiny-lm", seed=0)
    ol = OrthogonalLoRA(model, **card.lora_kwargs())
    with pytest.raises(ValueError, match="compact=True"):
        ol.to_peft(tmp_path / "adapter")
    ol.to_peft(tmp_path / "full", compact=False)
    assert (tmp_path / "full" / "adapter_model.safetensors").is_file()


def test_save_pretrained_trap_is_real(tmp_path):
    """Why export_base exists: save_pretrained of the adapted model stores ``...base_layer.weight``, and
    from_pretrained does not find ``q_proj.weight`` there, so it re-initialises it (only a warning)."""
    ol = _adapted()
    ids = _tokens()
    with ol.peft_enabled(False):
        base_logits = _logits(ol.model, ids)
    ol.model.save_pretrained(str(tmp_path / "trap"))
    trapped = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "trap"))
    assert (_logits(trapped, ids) - base_logits).abs().max().item() > 1e-3
    clean = transformers.AutoModelForCausalLM.from_pretrained(str(export_base(ol, tmp_path / "base")))
    assert torch.equal(_logits(clean, ids), base_logits)
