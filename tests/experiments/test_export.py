"""A run directory's ``adapter/`` and ``wirelora export``: plain peft reproduces the run's consensus."""

import pytest
import torch

from wirelora.cli import main
from wirelora.experiments.runner import load_run_config
from wirelora.learning.checkpoint import CHECKPOINT_FILE, load_checkpoint
from wirelora.learning.state import TrainerState

peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")

SHORT = [
    "--set",
    "trainer.rounds=4",
    "--set",
    "events=[{round: 2, leave: [d0]}]",
    "--set",
    "oracle.enabled=false",
    "--no-progress",
]


def test_export_reproduces_the_consensus(tmp_path, capsys):
    run_dir, out = tmp_path / "run", tmp_path / "export"
    assert main(["run", "leave-only", *SHORT, "--out", str(run_dir)]) == 0
    assert (run_dir / "adapter" / "adapter_model.safetensors").is_file()
    assert main(["export", str(run_dir), "--out", str(out)]) == 0
    assert "adapter ->" in capsys.readouterr().out

    _check_reload(run_dir, out)


@torch.no_grad()
def _check_reload(run_dir, out):
    """The run's consensus logits (wirelora's own stacked forward, from the last checkpoint) against plain
    peft on the exported base + adapter, and on the run directory's own adapter/, plain and merged."""
    config = load_run_config("leave-only", SHORT[1:-1:2])
    state = TrainerState(config, seed=config.seed)
    load_checkpoint(run_dir / CHECKPOINT_FILE, state, None)
    x = state.eval_x[:1, :4]  # [1, b, T] token ids
    want = state.logits(state.consensus(), x).cpu()
    for adapter in (out / "adapter", run_dir / "adapter"):
        base = transformers.AutoModelForCausalLM.from_pretrained(str(out / "base")).eval()
        model = peft.PeftModel.from_pretrained(base, str(adapter)).eval()
        got = model(input_ids=x[0].cpu()).logits
        assert got.shape == want.shape
        assert (got - want).abs().max().item() <= 1e-5
        merged = model.merge_and_unload()
        assert (merged(input_ids=x[0].cpu()).logits - want).abs().max().item() <= 1e-5
    with state.adapter.peft_enabled(False):
        plain = state.model(input_ids=x[0]).logits.cpu()
    assert (plain - want).abs().max().item() > 1e-4  # the adapter matters


def test_export_errors_are_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "not a wirelora run directory" in capsys.readouterr().err
