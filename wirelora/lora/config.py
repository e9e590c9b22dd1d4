"""What an OrthogonalLoRA adapter is, validated: which layers, their groups and ranks, the slots, the bases.

:class:`AdapterConfig` is built once from the constructor's arguments (every bad value is a one-line
ValueError naming it) and written into every saved adapter, so that a file rebuilds the same adapter.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from wirelora.lora.bases import BASIS_KINDS

__all__ = [
    "AdapterConfig",
    "resolve_target_modules",
    "is_adaptable",
    "is_conv1d",
    "layer_features",
    "default_layer_groups",
    "GROUP_NAMES",
    "OWNERSHIP_MODES",
]

GROUP_NAMES = ("early", "mid", "late")
OWNERSHIP_MODES = ("block", "shared")


def _conv1d_class() -> type | None:
    """transformers' ``Conv1D`` (GPT-2's attention and MLP projections) if transformers is loaded: a model
    holding one has imported it, so a model without transformers never imports it here."""
    utils = sys.modules.get("transformers.pytorch_utils")
    return getattr(utils, "Conv1D", None)


def is_adaptable(module: nn.Module) -> bool:
    """``nn.Linear`` (weight [out, in]) or transformers' ``Conv1D`` (weight [in, out], peft's
    ``fan_in_fan_out``)."""
    conv1d = _conv1d_class()
    return isinstance(module, nn.Linear) or (conv1d is not None and isinstance(module, conv1d))


def is_conv1d(module: nn.Module) -> bool:
    """Whether ``module`` is transformers' ``Conv1D`` (weight stored [in, out])."""
    conv1d = _conv1d_class()
    return conv1d is not None and isinstance(module, conv1d)


def layer_features(module: nn.Module) -> tuple[int, int]:
    """(in_features, out_features) of an adaptable layer: ``nn.Linear`` or ``Conv1D`` (``nx``, ``nf``)."""
    if is_conv1d(module):
        return int(module.nx), int(module.nf)
    return int(module.in_features), int(module.out_features)


def resolve_target_modules(model: nn.Module, target_modules: Sequence[str] | str) -> list[str]:
    """Names of the adaptable modules (``nn.Linear``, or transformers' ``Conv1D`` as in GPT-2) matched by
    ``target_modules``, in ``model.named_modules()`` order.

    A target matches a module whose full name equals it or ends with ``"." + target`` (peft's rule).
    Every target must match at least one adaptable module, and all matches must be of one kind (peft's
    ``fan_in_fan_out`` is one setting per adapter); anything else is a ValueError naming it.
    """
    if isinstance(target_modules, str):
        target_modules = [target_modules]
    targets = list(target_modules)
    if not targets or not all(isinstance(t, str) and t for t in targets):
        raise ValueError(f"target_modules={targets!r}: must be a non-empty list of module names")
    linear = [(n, m) for n, m in model.named_modules() if is_adaptable(m)]
    names: list[str] = []
    for target in targets:
        hits = [n for n, _ in linear if n == target or n.endswith("." + target)]
        if not hits:
            others = [n for n, m in model.named_modules() if n == target or n.endswith("." + target)]
            what = f"matches only non-Linear modules {others[:3]}" if others else "matches no module"
            examples = ", ".join(sorted({n.rsplit(".", 1)[-1] for n, _ in linear})[:12]) or "none"
            raise ValueError(
                f"target_modules: {target!r} {what}; nn.Linear / Conv1D module names here: {examples}"
            )
        names.extend(hits)
    kinds = {is_conv1d(model.get_submodule(n)) for n in names}
    if len(kinds) > 1:
        conv = next(n for n in names if is_conv1d(model.get_submodule(n)))
        lin = next(n for n in names if not is_conv1d(model.get_submodule(n)))
        raise ValueError(
            f"target_modules={targets!r}: mixes Conv1D ({conv!r}) and nn.Linear ({lin!r}) layers; "
            "adapt one kind per adapter"
        )
    order = {n: i for i, (n, _) in enumerate(linear)}
    return sorted(set(names), key=order.__getitem__)


def default_layer_groups(
    module_names: Sequence[str], group_names: Sequence[str] | None = None
) -> dict[str, str]:
    """Split adapted modules into groups by depth: early / mid / late thirds by default, or, given
    ``group_names`` of your own (any name outside early/mid/late, e.g. a card's ``ranks: {low: 4, high:
    16}``), as many consecutive depth ranges as names, in their order.

    Depth is the first integer component of the module name (``model.layers.3.self_attn.q_proj`` → 3), so the
    projections of one transformer block share a group; names without an integer use their order. With the
    default names and fewer than three depths the groups are early/late (two) or mid (one); other names need
    at least one depth per name.
    """
    keys: list[Any] = []
    for pos, name in enumerate(module_names):
        ints = [int(p) for p in name.split(".") if p.isdigit()]
        keys.append(ints[0] if ints else ("pos", pos))
    if any(isinstance(k, tuple) for k in keys) and not all(isinstance(k, tuple) for k in keys):
        keys = [("pos", i) for i in range(len(module_names))]
    depths = list(dict.fromkeys(keys))  # unique, first-appearance order
    if group_names is None or set(group_names) <= set(GROUP_NAMES):
        n_groups = min(3, len(depths))
        names = {1: ("mid",), 2: ("early", "late"), 3: GROUP_NAMES}[n_groups]
    else:
        names = tuple(group_names)
        n_groups = len(names)
        if n_groups > len(depths):
            raise ValueError(
                f"layer groups {list(names)}: {n_groups} groups but only {len(depths)} layer depth(s) to "
                "split by depth; give layer_groups (module name -> group) or fewer groups"
            )
    group_of_depth = {}
    for g, chunk in zip(names, np.array_split(np.arange(len(depths)), n_groups)):
        for i in chunk:
            group_of_depth[depths[int(i)]] = g
    return {name: group_of_depth[k] for name, k in zip(module_names, keys)}


def _is_count(r: Any) -> bool:
    return isinstance(r, int | np.integer) and not isinstance(r, bool) and r >= 1


@dataclass(frozen=True)
class AdapterConfig:
    """An adapter's layers (model order), their groups and per-device ranks, and its slots and bases."""

    module_names: list[str]
    layer_groups: dict[str, str]
    ranks: dict[str, int]
    max_devices: int
    basis: str
    seed: int
    scaling: float
    ownership: str

    @classmethod
    def build(
        cls,
        model: nn.Module,
        target_modules: Sequence[str] | str,
        rank: int | Mapping[str, int],
        *,
        max_devices: int,
        basis: str,
        seed: int,
        layer_groups: Mapping[str, str] | None,
        scaling: float,
        ownership: str,
    ) -> AdapterConfig:
        """Validate the OrthogonalLoRA constructor's arguments against ``model``."""
        if not isinstance(model, nn.Module):
            raise ValueError(f"model={type(model).__name__}: must be a torch.nn.Module")
        if isinstance(max_devices, bool) or not isinstance(max_devices, int) or max_devices < 1:
            raise ValueError(f"max_devices={max_devices!r}: must be an integer >= 1")
        if basis not in BASIS_KINDS:
            raise ValueError(f"basis={basis!r}: must be one of {', '.join(BASIS_KINDS)}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed={seed!r}: must be an integer >= 0")
        if (
            isinstance(scaling, bool)
            or not isinstance(scaling, int | float)
            or not np.isfinite(scaling)
            or scaling <= 0
        ):
            raise ValueError(f"scaling={scaling!r}: must be a finite number > 0")
        if ownership not in OWNERSHIP_MODES:
            raise ValueError(f"ownership={ownership!r}: must be one of {', '.join(OWNERSHIP_MODES)}")
        names = resolve_target_modules(model, target_modules)
        groups = _check_groups(names, layer_groups, list(rank) if isinstance(rank, Mapping) else None)
        ranks = _check_ranks(names, groups, rank)
        for name in names:
            r, g = ranks[name], groups[name]
            d = layer_features(model.get_submodule(name))[0]
            if basis == "slotted" and r * max_devices > d:
                raise ValueError(
                    f"rank={r} for layer {name!r} (group {g!r}): slotted bases need max_devices * rank = "
                    f"{max_devices} * {r} = {r * max_devices} <= in_features={d}; "
                    "lower the rank or max_devices"
                )
            if r > d:
                raise ValueError(f"rank={r} for layer {name!r} (group {g!r}): exceeds in_features={d}")
        return cls(
            module_names=names,
            layer_groups=groups,
            ranks=ranks,
            max_devices=int(max_devices),
            basis=basis,
            seed=int(seed),
            scaling=float(scaling),
            ownership=ownership,
        )

    def groups(self) -> dict[str, list[str]]:
        """{group: its layers}, in model order (so groups come out early → late)."""
        out: dict[str, list[str]] = {}
        for name in self.module_names:
            out.setdefault(self.layer_groups[name], []).append(name)
        return out

    def width(self, name: str) -> int:
        """S = max_devices · rank: columns of layer ``name``'s A and B."""
        return self.max_devices * self.ranks[name]

    def to_table(self) -> dict[str, Any]:
        """JSON-able, in the slot table's key order."""
        return {
            "basis": self.basis,
            "seed": self.seed,
            "max_devices": self.max_devices,
            "scaling": self.scaling,
            "ownership": self.ownership,
            "module_names": list(self.module_names),
            "layer_groups": dict(self.layer_groups),
            "ranks": dict(self.ranks),
        }

    @staticmethod
    def constructor_kwargs(table: Mapping[str, Any]) -> dict[str, Any]:
        """OrthogonalLoRA's keyword arguments (but the model) that rebuild the adapter ``table`` describes."""
        ranks = table["ranks"]
        names = table["module_names"]
        return {
            "target_modules": names,
            "rank": ranks[names[0]]
            if len(set(ranks.values())) == 1
            else {table["layer_groups"][n]: r for n, r in ranks.items()},
            "max_devices": table["max_devices"],
            "basis": table["basis"],
            "seed": table["seed"],
            "layer_groups": table["layer_groups"],
            "scaling": table["scaling"],
            "ownership": table["ownership"],
        }


def _check_groups(
    names: list[str], layer_groups: Mapping[str, str] | None, group_names: list[str] | None
) -> dict[str, str]:
    if layer_groups is None:
        return default_layer_groups(names, group_names)
    if not isinstance(layer_groups, Mapping):
        raise ValueError(f"layer_groups={layer_groups!r}: must be a mapping module name -> group name")
    unknown = [k for k in layer_groups if k not in names]
    if unknown:
        raise ValueError(f"layer_groups: {unknown[0]!r} is not an adapted module; adapted modules: {names}")
    missing = [n for n in names if n not in layer_groups]
    if missing:
        raise ValueError(f"layer_groups: adapted module {missing[0]!r} has no group")
    bad = [(k, v) for k, v in layer_groups.items() if not isinstance(v, str) or not v]
    if bad:
        raise ValueError(f"layer_groups[{bad[0][0]!r}]={bad[0][1]!r}: group names must be non-empty strings")
    return {n: layer_groups[n] for n in names}


def _check_ranks(names: list[str], groups: dict[str, str], rank: int | Mapping[str, int]) -> dict[str, int]:
    if isinstance(rank, Mapping):
        group_names = list(dict.fromkeys(groups[n] for n in names))
        for g in group_names:
            if g not in rank:
                raise ValueError(f"rank: no rank for layer group {g!r} (groups: {group_names})")
        for g, r in rank.items():
            if not _is_count(r):
                raise ValueError(f"rank[{g!r}]={r!r}: must be an integer >= 1")
        return {n: int(rank[groups[n]]) for n in names}
    if not _is_count(rank):
        raise ValueError(f"rank={rank!r}: must be an integer >= 1 or a mapping group -> rank")
    return {n: int(rank) for n in names}
