"""Tiny Hugging Face checkpoints written to a temporary directory (no hub download), with a model card for
each: the bring-your-own-model path of wirelora (``architecture: hf``, ``path:``)."""

from pathlib import Path

import torch


def tiny_gpt2(root: Path, *, layers: int = 2, card: str | None = None) -> Path:
    """A random-init GPT-2 (Conv1D attention ``c_attn``: weight [in, out]) saved to ``root/gpt2`` and a card
    ``root/gpt2.yaml`` adapting ``c_attn``; returns the card's path."""
    import transformers

    cfg = transformers.GPT2Config(
        vocab_size=64, n_positions=32, n_embd=32, n_layer=layers, n_head=2, bos_token_id=1, eos_token_id=2
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        transformers.GPT2LMHeadModel(cfg).save_pretrained(root / "gpt2")
    path = root / "gpt2.yaml"
    path.write_text(
        card
        or "name: tiny-gpt2\narchitecture: hf\nkind: causal-lm\ntarget_modules: [c_attn]\n"
        "ranks: {early: 2, late: 4}\nmax_devices: 4\npath: gpt2\n"
    )
    return path


def facts_run(card: Path, **trainer) -> dict:
    """A raw run config of the facts task on a tiny LM card (vocabulary 64): 4 devices, d0 leaves at round
    2."""
    return {
        "name": "hf",
        "model": {"name": str(card)},
        "task": {
            "num_devices": 4,
            "initial_devices": 4,
            "facts_per_device": 2,
            "pairs_per_sequence": 2,
            "num_values": 8,
            "train_per_device": 8,
            "eval_per_device": 4,
        },
        "trainer": {"rounds": 4, "batch_size": 4, "checkpoint_every": 0, **trainer},
        "events": [{"round": 2, "leave": ["d0"]}],
    }
