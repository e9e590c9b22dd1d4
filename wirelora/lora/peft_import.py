"""A standard peft LoRA adapter in: read its ΔW per layer and seed an OrthogonalLoRA's members with it.

peft stores per layer ``lora_A`` [r, in] and ``lora_B`` [out, r] under ``base_model.model.<module>``, with
ΔW = (lora_alpha / r) · B A (``/ sqrt(r)`` with ``use_rslora``; per-layer ``alpha_pattern``).
:func:`seed_members` writes that ΔW into the members' slots exactly: each layer's slotted basis is rebuilt
(:func:`~wirelora.lora.bases.aligned_slotted_basis`) so that the members' columns contain the adapter's row
space, and the members' blocks become B_C = ΔW A_C / scaling (A_C orthonormal, so scaling · B_C A_Cᵀ = ΔW).
This needs rank(ΔW) <= the members' columns (members × rank) per layer. The adapter then lives in the members'
slots: a leaver's share of it leaves with it, exactly like its own training.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import torch

from wirelora.lora.bases import aligned_slotted_basis
from wirelora.lora.injection import ADAPTER
from wirelora.lora.peft_export import PEFT_PREFIX

__all__ = ["read_peft_deltas", "seed_members"]

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"


def _pattern(patterns: dict, name: str, default):
    """peft's rank/alpha pattern lookup: a key matches a module name it ends (after a dot) as a regex."""
    for key, value in (patterns or {}).items():
        if re.match(rf"(.*\.)?({key})$", name):
            return value
    return default


def read_peft_deltas(path: str | Path) -> dict[str, torch.Tensor]:
    """{module name: ΔW [out, in] float64} of the peft LoRA adapter directory ``path``. Every problem is a
    one-line ValueError (the caller prefixes the field)."""
    from safetensors.torch import load_file

    root = Path(path).expanduser()
    if not root.is_dir():
        raise ValueError("no such directory")
    if not (root / CONFIG_FILE).is_file():
        raise ValueError(f"no {CONFIG_FILE} (not a peft adapter directory)")
    if not (root / WEIGHTS_FILE).is_file():
        raise ValueError(f"no {WEIGHTS_FILE} (only safetensors peft adapters are read)")
    try:
        cfg = json.loads((root / CONFIG_FILE).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{CONFIG_FILE} is not JSON ({exc.msg}, line {exc.lineno})") from None
    if cfg.get("peft_type", "LORA") != "LORA":
        raise ValueError(f"peft_type={cfg.get('peft_type')!r}: only LoRA adapters can seed a run")
    for key, plain in (("use_dora", False), ("bias", "none"), ("modules_to_save", None)):
        if cfg.get(key, plain) not in (plain, [], False):
            raise ValueError(f"{key}={cfg[key]!r}: not a plain LoRA adapter (needs {key}={plain!r})")
    tensors = load_file(str(root / WEIGHTS_FILE))
    deltas: dict[str, torch.Tensor] = {}
    for key, a in tensors.items():
        if not key.endswith(".lora_A.weight"):
            continue
        name = key.removesuffix(".lora_A.weight").removeprefix(PEFT_PREFIX)
        b = tensors.get(key.replace(".lora_A.weight", ".lora_B.weight"))
        if b is None or b.ndim != 2 or a.ndim != 2 or b.shape[1] != a.shape[0]:
            raise ValueError(f"layer {name!r}: lora_A and lora_B do not pair up (shapes or a missing B)")
        r = int(a.shape[0])
        alpha = float(_pattern(cfg.get("alpha_pattern"), name, cfg.get("lora_alpha", 8)))
        scale = alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r
        deltas[name] = scale * (b.double() @ a.double())  # [out, in]
    if not deltas:
        raise ValueError(f"{WEIGHTS_FILE} holds no lora_A / lora_B weights")
    return deltas


def seed_members(ol, deltas: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rebuild each layer's slotted basis around ``deltas[layer]``'s row space and write the blocks of
    ``ol``'s members so that the adapter's ΔW equals it; returns {layer: B [out, S]} (layers the adapter does
    not name stay zero). ``ol`` must have slotted bases and its members must be its only nonzero slots."""
    if ol.basis_kind != "slotted":
        raise ValueError("needs model.basis: slotted (independent bases are drawn per device on join)")
    unknown = [n for n in deltas if n not in ol.module_names]
    if unknown:
        raise ValueError(
            f"layer {unknown[0]!r} is not adapted here (adapted layers: {', '.join(ol.module_names)}); "
            "the adapter targets other modules"
        )
    members = ol.members
    out: dict[str, torch.Tensor] = {}
    for idx, name in enumerate(ol.module_names):
        layer = ol.lora_layer(name)
        b_w = ol.b_weight(name)
        delta = deltas.get(name)
        if delta is None:
            out[name] = b_w.detach().clone()
            continue
        want = (layer.out_features, layer.in_features)
        if tuple(delta.shape) != want:
            raise ValueError(f"layer {name!r}: ΔW of shape {tuple(delta.shape)}, this model's is {want}")
        r = ol.rank(name)
        u, s, vt = torch.linalg.svd(delta, full_matrices=False)
        k = int((s > s[0] * 1e-10).sum()) if s.numel() and s[0] > 0 else 0  # the adapter's numerical rank
        capacity = r * len(members)
        if k > capacity:
            raise ValueError(
                f"layer {name!r}: rank {k} is more than the initial members' slots hold "
                f"({len(members)} x rank {r} = {capacity}); raise task.initial_devices or model.ranks "
                f"(group {ol.layer_groups[name]!r})"
            )
        q = aligned_slotted_basis(vt[:k].T.numpy(), r, ol.max_devices, seed=ol.seed, layer_index=idx)
        cols = torch.cat(
            [torch.arange(ol.slot_columns(d, name).start, ol.slot_columns(d, name).stop) for d in members]
        )
        q_t = torch.from_numpy(q)  # [in, S] float64
        blocks = torch.zeros(b_w.shape, dtype=torch.float64)
        blocks[:, cols] = delta @ q_t[:, cols] / ol.scaling(name)  # [out, |C|]
        with torch.no_grad():
            layer.lora_A[ADAPTER].weight.copy_(q_t.T.to(b_w))
            b_w.copy_(blocks.to(b_w))
        out[name] = b_w.detach().clone()
    return out
