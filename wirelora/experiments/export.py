"""``wirelora export RUN_DIR --out DIR``: a run's final consensus for plain peft users.

``DIR/adapter`` is the consensus of the run's last checkpoint as a standard peft LoRA adapter
(:func:`wirelora.lora.peft_export.export_adapter`, compact: the members' and retired slots' columns) and, when
the base model was built from a card rather than read from a Hugging Face directory (``tiny-lm``),
``DIR/base`` is that base model as a Hugging Face checkpoint, so that

    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained("DIR/base"), "DIR/adapter")

gives the run's consensus model (``AutoModel`` for an encoder card: the adapter's module names are relative to
the encoder, not to wirelora's classifier head around it). A base read from a local directory (a card with
``path:``) is not copied: load it from there. The MLP is not a Hugging Face model, so only its adapter is
written.
"""

from __future__ import annotations

import json
from pathlib import Path

from wirelora.config import ConfigError, from_dict
from wirelora.experiments.rundir import RESOLVED_FILE

__all__ = ["export_run", "cli_export"]


def export_run(run_dir: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Write ``out_dir/adapter`` (and ``out_dir/base`` where the base was built from a card) from the run in
    ``run_dir``; returns {"adapter": path, "base": path (if written)}."""
    from wirelora.learning.checkpoint import CHECKPOINT_FILE, load_checkpoint
    from wirelora.learning.config import RunConfig
    from wirelora.learning.state import TrainerState
    from wirelora.lora.peft_export import export_adapter, export_base

    run = Path(run_dir)
    if not (run / RESOLVED_FILE).is_file():
        raise ConfigError(f"run directory {str(run)!r}: no {RESOLVED_FILE} (not a wirelora run directory)")
    if not (run / CHECKPOINT_FILE).is_file():
        raise ConfigError(f"run directory {str(run)!r}: no {CHECKPOINT_FILE}, nothing to export")
    config = from_dict(RunConfig, json.loads((run / RESOLVED_FILE).read_text()), prefix="")
    state = TrainerState(config, seed=config.seed)
    load_checkpoint(run / CHECKPOINT_FILE, state, None)  # also writes the consensus into the adapter's B
    if not state.members:
        raise ConfigError(f"run directory {str(run)!r}: no member at the last checkpoint, no consensus")
    out = Path(out_dir)
    card = state.card
    from_card = card.path is None and card.package is None and card.architecture != "mlp"
    written: dict[str, Path] = {}
    if from_card:
        written["base"] = export_base(state.adapter, out / "base", root=state.peft_root)
    name = str(written["base"].resolve()) if from_card else (card.path or card.name)
    written["adapter"] = export_adapter(
        state.adapter, out / "adapter", base_model_name_or_path=name, root=state.peft_root
    )
    return written


def cli_export(args) -> int:
    written = export_run(args.dir, args.out)
    print("wirelora export: " + ", ".join(f"{k} -> {v}" for k, v in written.items()))
    return 0
