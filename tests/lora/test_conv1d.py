"""GPT-2-family targets: transformers' Conv1D (weight [in, out], ``c_attn``) adapted like nn.Linear, with
peft's fan_in_fan_out; an exact leave; a peft export that reloads with identical logits; a whole run on the
card."""

import json

import pytest
import torch
from hf_models import facts_run, tiny_gpt2

from wirelora.config import from_dict
from wirelora.learning.config import RunConfig
from wirelora.learning.loop import run
from wirelora.learning.models import build_model
from wirelora.lora import OrthogonalLoRA
from wirelora.lora.peft_export import export_base

peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")


def _adapted(card, members=("d0", "d1", "d2"), *, skip=()):
    model, c = build_model(card, seed=0)
    ol = OrthogonalLoRA(model, seed=3, scaling=0.5, **c.lora_kwargs())
    gen = torch.Generator().manual_seed(0)
    for dev in members:
        ol.add_device(dev)
    for name in ol.module_names:
        for dev in members:
            blk = ol.block(dev, name)
            value = 0.3 * torch.randn(blk.shape, generator=gen)  # drawn for every device: same values
            if dev not in skip:
                blk.copy_(value)
    return ol


def _ids():
    return torch.randint(3, 64, (2, 10), generator=torch.Generator().manual_seed(1))


@torch.no_grad()
def _logits(model, ids):
    return model(input_ids=ids).logits


def test_conv1d_layer_adds_scaling_x_a_bt(tmp_path):
    card = tiny_gpt2(tmp_path)
    ol = _adapted(card)
    assert ol.module_names == ["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"]
    name = ol.module_names[0]
    layer = ol.lora_layer(name)
    conv = layer.base_layer
    assert type(conv).__name__ == "Conv1D" and tuple(conv.weight.shape) == (32, 96)  # [in, out]
    assert ol.basis_matrix(name).shape == (32, 4 * 2) and ol.b_weight(name).shape == (96, 8)
    x = torch.randn(5, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = x @ conv.weight + conv.bias + x @ ol.delta_weight(name).T  # ΔW : [out, in]
        torch.testing.assert_close(layer(x), want, rtol=1e-5, atol=1e-6)
    with ol.peft_enabled(False), torch.no_grad():
        torch.testing.assert_close(layer(x), x @ conv.weight + conv.bias, rtol=0, atol=0)


def test_conv1d_leave_is_exact(tmp_path):
    card = tiny_gpt2(tmp_path)
    ol = _adapted(card)
    ids = _ids()
    before = _logits(ol.model, ids)
    ol.remove_device("d1")
    left = _logits(ol.model, ids)
    # the same adapter in which d1's block was never filled: the leave removed d1's contribution exactly
    never = _adapted(card, skip=("d1",))
    assert torch.equal(left, _logits(never.model, ids))
    assert not torch.equal(left, before)
    for name in ol.module_names:
        assert torch.count_nonzero(ol.b_weight(name)[:, ol.slots.columns(1, ol.rank(name))]) == 0


@pytest.mark.parametrize("compact", [True, False])
def test_conv1d_peft_export_reloads_with_fan_in_fan_out(tmp_path, compact):
    card = tiny_gpt2(tmp_path)
    ol = _adapted(card)
    ol.remove_device("d0")
    ids = _ids()
    want = _logits(ol.model, ids)
    out = ol.to_peft(tmp_path / "adapter", compact=compact)
    assert json.loads((out / "adapter_config.json").read_text())["fan_in_fan_out"] is True
    export_base(ol, tmp_path / "base")
    base = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "base"))
    reloaded = peft.PeftModel.from_pretrained(base, str(out)).eval()
    got = _logits(reloaded, ids)
    if compact:
        assert (got - want).abs().max().item() <= 1e-5
    else:
        assert torch.equal(got, want)
    merged = reloaded.merge_and_unload()  # the merge transposes ΔW for the [in, out] weight (fan_in_fan_out)
    assert type(merged.transformer.h[0].attn.c_attn).__name__ == "Conv1D"
    assert (_logits(merged, ids) - want).abs().max().item() <= 1e-5


def test_mixed_conv1d_and_linear_targets_are_refused(tmp_path):
    model, _ = build_model(tiny_gpt2(tmp_path))
    with pytest.raises(ValueError, match=r"mixes Conv1D \('transformer.h.0.attn.c_attn'\) and nn.Linear"):
        OrthogonalLoRA(model, target_modules=["c_attn", "lm_head"], rank=1, max_devices=2)


def test_run_on_a_gpt2_card_with_a_leave(tmp_path):
    card = tiny_gpt2(tmp_path)
    config = from_dict(RunConfig, facts_run(card), prefix="")
    history = run(config, out_dir=tmp_path / "run")
    losses = [r["train_loss"] for r in history.rounds]
    assert len(losses) == 4 and all(torch.isfinite(torch.tensor(losses)))
    assert history.rounds[2]["event"] is not None
    # the exported consensus has no column of the leaver's slot 0: the compact export keeps d1..d3 only
    from safetensors.torch import load_file

    tensors = load_file(str(tmp_path / "run" / "adapter" / "adapter_model.safetensors"))
    b = tensors["base_model.model.transformer.h.0.attn.c_attn.lora_B.weight"]
    assert b.shape == (96, 3 * 2) and torch.count_nonzero(b) > 0
