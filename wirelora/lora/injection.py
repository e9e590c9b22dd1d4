"""peft under an OrthogonalLoRA adapter: inject one LoRA adapter of width S = max_devices · r per layer,
freeze everything but B, write the slotted bases into A, and switch peft's LoRA term on and off.

peft is imported when an adapter is injected (it pulls transformers, ~4 s).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from wirelora.lora.bases import slotted_basis
from wirelora.lora.config import AdapterConfig, is_conv1d

__all__ = ["ADAPTER", "inject", "set_peft_enabled", "peft_enabled"]

ADAPTER = "default"  # the peft adapter name; one adapter per model


def inject(model: nn.Module, config: AdapterConfig) -> None:
    """Inject peft LoRA layers into ``model`` (in place) at ``config.module_names``.

    Targets are ``nn.Linear`` or transformers' ``Conv1D`` (peft's ``fan_in_fan_out``: the LoRA factors keep
    the same layout, lora_A [S, in] and lora_B [out, S], whichever way the base weight is stored).
    Every parameter of ``model`` is frozen except each layer's ``lora_B`` [out, S], which starts at zero;
    ``lora_A`` [S, in] holds Aᵀ: the seeded slotted basis, or zero (independent bases are drawn per device on
    join). The scale is ``config.scaling`` in every layer.
    """
    from peft import LoraConfig, inject_adapter_in_model  # deferred: peft pulls transformers (~4 s)

    names = config.module_names
    # GPT-2's Conv1D stores its weight [in, out]: peft's fan_in_fan_out (one setting per adapter; targets
    # mixing Conv1D and Linear are refused in resolve_target_modules). It changes only how peft merges.
    fan_in_fan_out = is_conv1d(model.get_submodule(names[0]))
    widths = {n: config.width(n) for n in names}
    peft_config = LoraConfig(
        r=widths[names[0]],
        lora_alpha=widths[names[0]],
        target_modules=list(names),
        rank_pattern={re.escape(n): w for n, w in widths.items()},
        alpha_pattern={re.escape(n): w for n, w in widths.items()},
        lora_dropout=0.0,
        bias="none",
        fan_in_fan_out=fan_in_fan_out,
    )
    inject_adapter_in_model(peft_config, model, adapter_name=ADAPTER)
    for p in model.parameters():
        p.requires_grad_(False)
    for idx, n in enumerate(names):
        layer = model.get_submodule(n)
        a_w, b_w = layer.lora_A[ADAPTER].weight, layer.lora_B[ADAPTER].weight  # [S, in], [out, S]
        if tuple(a_w.shape) != (widths[n], layer.in_features):
            raise RuntimeError(
                f"peft gave layer {n!r} lora_A of shape {tuple(a_w.shape)}, expected "
                f"{(widths[n], layer.in_features)}"
            )
        layer.scaling[ADAPTER] = config.scaling
        with torch.no_grad():
            if config.basis == "slotted":
                q = slotted_basis(
                    layer.in_features, config.ranks[n], config.max_devices, seed=config.seed, layer_index=idx
                )
                a_w.copy_(torch.from_numpy(q.T))
            else:
                a_w.zero_()  # filled per device on join
            b_w.zero_()
        b_w.requires_grad_(True)


def set_peft_enabled(layers: Sequence[nn.Module], on: bool) -> None:
    """Switch peft's LoRA term of ``layers`` on or off through peft's public ``enable_adapters``.

    peft's switch also sets requires_grad on the adapter weights (on: A and B trainable; off: neither); the
    adapter's own rule is restored after it: A frozen, B trainable, whichever way the switch goes.
    """
    for layer in layers:
        layer.enable_adapters(on)
        layer.lora_A[ADAPTER].weight.requires_grad_(False)
        layer.lora_B[ADAPTER].weight.requires_grad_(True)


@contextlib.contextmanager
def peft_enabled(layers: Sequence[nn.Module], on: bool) -> Iterator[None]:
    """peft's LoRA term of ``layers`` ``on`` inside the block; afterwards as it was (peft's public
    ``disable_adapters`` flag says how it was)."""
    previous = [not layer.disable_adapters for layer in layers]
    set_peft_enabled(layers, on)
    try:
        yield
    finally:
        for layer, was in zip(layers, previous):
            set_peft_enabled([layer], was)
