"""A standard peft LoRA adapter seeds a run (``model.init_adapter``): the initial consensus is the adapter's
model (logits within 1e-5), whether wirelora exported it or peft made it; bad adapters are one-line errors."""

import pytest
import torch
from hf_models import facts_run, tiny_gpt2

from wirelora.config import ConfigError, from_dict
from wirelora.learning.config import RunConfig
from wirelora.learning.loop import run
from wirelora.learning.models import build_model
from wirelora.learning.state import TrainerState
from wirelora.lora.bases import aligned_slotted_basis

peft = pytest.importorskip("peft")


def _state(card, adapter, **task):
    raw = facts_run(card)
    raw["model"]["init_adapter"] = str(adapter)
    raw["task"].update(task)
    return TrainerState(from_dict(RunConfig, raw, prefix=""), seed=0)


def _ids():
    return torch.randint(3, 64, (1, 3, 10), generator=torch.Generator().manual_seed(1))  # [R, b, T]


@torch.no_grad()
def _peft_logits(card, adapter, ids):
    base, _ = build_model(card)
    return peft.PeftModel.from_pretrained(base, str(adapter)).eval()(input_ids=ids[0]).logits


@torch.no_grad()
def _consensus_logits(state, ids):
    return state.logits(state.consensus(), ids).reshape(ids.shape[1], ids.shape[2], -1)


def _peft_adapter(card, out, *, r, targets=("c_attn",)):
    """A peft-made adapter with random A and B (init_lora_weights=False), saved to ``out``."""
    base, _ = build_model(card)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        cfg = peft.LoraConfig(
            r=r, lora_alpha=2 * r, target_modules=list(targets), init_lora_weights=False, fan_in_fan_out=True
        )
        model = peft.get_peft_model(base, cfg)
    model.save_pretrained(str(out))
    return out


def test_run_exported_adapter_seeds_a_new_run(tmp_path):
    card = tiny_gpt2(tmp_path)
    first = run(from_dict(RunConfig, facts_run(card), prefix=""), out_dir=tmp_path / "first")
    assert len(first.rounds) == 4
    adapter = tmp_path / "first" / "adapter"  # d1..d3 after d0 left: 3 slots per layer
    state = _state(card, adapter)  # 4 initial members: room for 3 slots' worth of rank
    ids = _ids()
    want = _peft_logits(card, adapter, ids)
    base, _ = build_model(card)
    with torch.no_grad():
        assert (base(input_ids=ids[0]).logits - want).abs().max() > 1e-3  # the adapter does change the model
    got = _consensus_logits(state, ids)
    assert (got - want).abs().max().item() <= 1e-5
    for n in state.layer_names:  # every copy starts at the adapter; never-used slots stay zero
        assert torch.equal(state.blocks[n][0], state.blocks[n][-1])
    # training from it runs, and the leave still removes d0's slot exactly
    seeded = facts_run(card)
    seeded["model"]["init_adapter"] = str(adapter)
    history = run(from_dict(RunConfig, seeded, prefix=""), out_dir=tmp_path / "second")
    assert len(history.rounds) == 4


def test_peft_made_adapter_seeds_exactly(tmp_path):
    card = tiny_gpt2(tmp_path)
    adapter = _peft_adapter(card, tmp_path / "peft", r=6)  # rank 6 <= 4 members x rank 2 (early) = 8
    state = _state(card, adapter)
    ids = _ids()
    got, want = _consensus_logits(state, ids), _peft_logits(card, adapter, ids)
    assert (got - want).abs().max().item() <= 1e-5
    # the rebuilt bases are still exactly orthonormal slots
    for n in state.layer_names:
        a = state.adapter.basis_matrix(n).double()
        torch.testing.assert_close(a.T @ a, torch.eye(a.shape[1], dtype=torch.float64), rtol=0, atol=1e-6)


def test_aligned_basis_contains_the_span():
    span = torch.randn(20, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64).numpy()
    q = aligned_slotted_basis(span, 2, 4, seed=0, layer_index=1)  # [20, 8]
    assert q.shape == (20, 8)
    torch.testing.assert_close(
        torch.from_numpy(q.T @ q), torch.eye(8, dtype=torch.float64), rtol=0, atol=1e-12
    )
    head = q[:, :3]
    torch.testing.assert_close(
        torch.from_numpy(head @ head.T @ span), torch.from_numpy(span), rtol=0, atol=1e-12
    )


def test_bad_init_adapters_are_one_line_errors(tmp_path):
    card = tiny_gpt2(tmp_path)
    with pytest.raises(ConfigError, match=r"^model.init_adapter='.*nowhere': no such directory$"):
        _state(card, tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        ConfigError, match=r"^model.init_adapter='.*empty': no adapter_config.json \(not a peft"
    ):
        _state(card, tmp_path / "empty")
    other = _peft_adapter(card, tmp_path / "mlp", r=2, targets=("c_fc",))
    with pytest.raises(
        ConfigError,
        match=r"^model.init_adapter='.*mlp': layer 'transformer.h.0.mlp.c_fc' is not adapted here",
    ):
        _state(card, other)
    big = _peft_adapter(card, tmp_path / "big", r=12)
    with pytest.raises(
        ConfigError,
        match=r"^model.init_adapter='.*big': layer 'transformer.h.0.attn.c_attn': rank 12 is more than the "
        r"initial members' slots hold \(4 x rank 2 = 8\); raise task.initial_devices or model.ranks",
    ):
        _state(card, big)
    raw = facts_run(card)
    raw["model"].update(init_adapter=str(big), basis="independent")
    with pytest.raises(ConfigError, match=r"^model.init_adapter='.*big': needs model.basis: slotted"):
        TrainerState(from_dict(RunConfig, raw, prefix=""), seed=0)
