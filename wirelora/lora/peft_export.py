"""An OrthogonalLoRA adapter as a standard peft LoRA adapter, and its base model as a plain Hugging Face
checkpoint, so that any peft user reloads the consensus without wirelora:

    export_adapter(ol, "out/adapter")                    # adapter_config.json + adapter_model.safetensors
    export_base(ol, "out/base")                          # the base model, the injected LoRA layers stripped
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained("out/base"), "out/adapter")

Per layer the export is peft's ``lora_A`` [S', in] (the kept rows of Aᵀ) and ``lora_B`` [out, S'] (the kept
columns of B) under peft's key names ``base_model.model.<module>.lora_{A,B}.weight``, with
``r = alpha = S'`` per layer (``rank_pattern``/``alpha_pattern``: ranks differ per layer group) scaled so that
peft's ``lora_alpha / r`` is the adapter's scaling. ``compact=True`` keeps only the columns that can be
nonzero: the members' slots and, with independent bases, the retired slots (a leave leaves a residual
there, which is part of the consensus: dropping it would change the model). ``compact=False`` keeps all S.

The save_pretrained trap: ``ol.model.save_pretrained(dir)`` on the adapted model writes each adapted
weight as ``<module>.base_layer.weight`` next to the LoRA tensors; ``from_pretrained`` then finds no
``<module>.weight``, initialises it at random and only warns. :func:`export_base` saves a copy with every
LoRA layer replaced by its base layer, and refuses to write if a LoRA or ``base_layer`` key is still there.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from wirelora.lora.config import is_conv1d
from wirelora.lora.injection import ADAPTER

if TYPE_CHECKING:
    from wirelora.lora.adapter import OrthogonalLoRA

__all__ = ["export_slots", "export_adapter", "export_base", "relative_name", "PEFT_PREFIX"]

PEFT_PREFIX = "base_model.model."  # peft's key prefix for the wrapped model's modules


def export_slots(ol: OrthogonalLoRA, *, compact: bool = True) -> list[int]:
    """The slots an export keeps, in slot order: every slot (``compact=False``), else the occupied ones and
    the retired ones (freed with a nonzero block: independent bases, or a leave without the projection)."""
    if not compact:
        return list(range(ol.max_devices))
    return sorted(set(ol.slots.occupied) | set(ol.retired_slots))


def _alpha(scaling: float, r: int) -> float:
    """lora_alpha such that peft's ``lora_alpha / r`` is ``scaling`` bit for bit."""
    alpha = scaling * r
    for _ in range(8):
        q = alpha / r
        if q == scaling:
            return alpha
        alpha = math.nextafter(alpha, math.inf if q < scaling else -math.inf)
    raise ValueError(f"scaling={scaling!r}: no lora_alpha gives lora_alpha / {r} == scaling exactly")


def export_adapter(
    ol: OrthogonalLoRA,
    out_dir: str | Path,
    *,
    compact: bool = True,
    base_model_name_or_path: str | None = None,
    root: str = "",
) -> Path:
    """Write ``ol``'s current adapter to ``out_dir`` as a peft LoRA adapter; returns ``out_dir``.

    ``root``: the submodule of ``ol.model`` that is the Hugging Face model a peft user loads (e.g.
    ``"encoder"`` when wirelora wrapped an encoder in its classifier head); module names are written
    relative to it, so that ``PeftModel.from_pretrained(AutoModel.from_pretrained(base), out_dir)`` finds
    them. Default: ``ol.model`` itself."""
    from peft import LoraConfig
    from safetensors.torch import save_file

    slots = export_slots(ol, compact=compact)
    if not slots:
        raise ValueError(
            "compact=True: the adapter has no member and no retired slot, nothing to export "
            "(export with compact=False for an all-zero adapter)"
        )
    tensors: dict[str, torch.Tensor] = {}
    widths: dict[str, int] = {}
    alphas: dict[str, float] = {}
    relative = {name: relative_name(name, root) for name in ol.module_names}
    for name in ol.module_names:
        rank = ol.rank(name)
        cols = torch.cat([torch.arange(s * rank, (s + 1) * rank) for s in slots])
        layer = ol.lora_layer(name)
        a_t = layer.lora_A[ADAPTER].weight.detach().cpu()  # [S, in]
        b = layer.lora_B[ADAPTER].weight.detach().cpu()  # [out, S]
        key = relative[name]
        tensors[f"{PEFT_PREFIX}{key}.lora_A.weight"] = a_t[cols].clone().contiguous()
        tensors[f"{PEFT_PREFIX}{key}.lora_B.weight"] = b[:, cols].clone().contiguous()
        widths[key] = len(cols)
        alphas[key] = _alpha(ol.scaling(name), len(cols))
    first = relative[ol.module_names[0]]
    config = LoraConfig(
        r=widths[first],
        lora_alpha=alphas[first],
        target_modules=list(relative.values()),
        rank_pattern={re.escape(n): w for n, w in widths.items()},
        alpha_pattern={re.escape(n): a for n, a in alphas.items()},
        lora_dropout=0.0,
        bias="none",
        fan_in_fan_out=is_conv1d(
            ol.lora_layer(ol.module_names[0]).base_layer
        ),  # GPT-2's Conv1D: weight [in, out]
        base_model_name_or_path=base_model_name_or_path,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(str(out))
    save_file(tensors, str(out / "adapter_model.safetensors"), metadata={"format": "pt"})
    return out


@contextlib.contextmanager
def _stripped(ol: OrthogonalLoRA) -> Iterator[torch.nn.Module]:
    """``ol.model`` with every injected LoRA layer swapped for its base layer inside the block (in place, no
    copy: the model may carry forward hooks), and the LoRA layers put back afterwards."""
    model = ol.model
    swapped = []
    try:
        for name in ol.module_names:
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            layer = getattr(parent, child)
            setattr(parent, child, layer.base_layer)
            swapped.append((parent, child, layer))
        yield model
    finally:
        for parent, child, layer in swapped:
            setattr(parent, child, layer)


def relative_name(name: str, root: str) -> str:
    """``name`` relative to the submodule ``root`` ("" = the model itself); a ValueError if outside it."""
    if not root:
        return name
    if not name.startswith(root + "."):
        raise ValueError(f"root={root!r}: adapted layer {name!r} is not inside it")
    return name[len(root) + 1 :]


def export_base(ol: OrthogonalLoRA, out_dir: str | Path, *, root: str = "") -> Path:
    """Save ``ol``'s base model (LoRA layers stripped; its submodule ``root`` if given) with transformers'
    ``save_pretrained``."""
    target = ol.model.get_submodule(root) if root else ol.model
    if not hasattr(target, "save_pretrained"):
        raise ValueError(
            f"model {type(target).__name__}: not a Hugging Face model (no save_pretrained), cannot export"
        )
    out = Path(out_dir)
    with _stripped(ol) as whole:
        model = whole.get_submodule(root) if root else whole
        bad = [k for k in model.state_dict() if "lora_" in k or ".base_layer." in k]
        if bad:
            raise RuntimeError(
                f"base model still holds adapter key {bad[0]!r} after stripping the LoRA layers"
            )
        model.save_pretrained(str(out))
    return out
