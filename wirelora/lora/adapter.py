"""OrthogonalLoRA: each device's contribution to a LoRA adapter lives in its own frozen
coordinates (docs/method.md §2).

Per adapted layer W0 (out × in) the adapter is ΔW = scaling · B Aᵀ with A = [A_1 … A_S'] : [in, S]
(frozen bases, one column block per slot; S = max_devices · rank) and B = [B_1 … B_S'] : [out, S]
(trained). Injection goes through peft: the layer's ``lora_A`` weight holds Aᵀ and is frozen, ``lora_B``
holds B. A device owns one slot; slots not in use hold a zero block, so they add nothing to the output.

    ol = OrthogonalLoRA(model, target_modules=["q_proj", "v_proj"], rank={"early": 4, "mid": 8, "late": 16})
    ol.add_device("d0"); ol.add_device("d1")
    ... train ...
    ol.remove_device("d0")      # B ← B − B(AᵀA_u)(A_uᵀA): exact zeroing of block d0 for slotted bases

A trainer that keeps one copy of B per device, stacked as [M, out, S], applies the same leave
projection to all copies at once with :meth:`OrthogonalLoRA.project_out` (or the pure :func:`project_out`).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Hashable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from wirelora.lora.bases import BASIS_KINDS, independent_basis, slotted_basis

__all__ = [
    "OrthogonalLoRA",
    "project_out",
    "contribution_residual",
    "default_layer_groups",
    "resolve_target_modules",
    "GROUP_NAMES",
    "OWNERSHIP_MODES",
]

GROUP_NAMES = ("early", "mid", "late")
OWNERSHIP_MODES = ("block", "shared")
_ADAPTER = "default"  # the peft adapter name; one adapter per model
_FORMAT = "wirelora-orthogonal-lora/1"


# --------------------------------------------------------------------------------------------------
# pure functions (usable on stacked per-device copies of B)


def project_out(B: torch.Tensor, A: torch.Tensor, cols: slice, *, slotted: bool = False) -> torch.Tensor:
    """The leave projection of eq. 15/19 in factor form: B ← B − B (AᵀA_u)(A_uᵀA).

    B : [..., out, S] (any leading batch dims, e.g. one copy per device [M, out, S]);
    A : [in, S] all slots' bases; cols : the leaver's columns (A_u = A[:, cols] : [in, r]).
    Returns a new tensor of B's shape.

    With slotted bases AᵀA_u is exactly the leaver's block of the identity, so the projection is
    "zero the leaver's columns"; ``slotted=True`` does that literally, which keeps every other block
    bit-identical (the float product would perturb them by ~1e-7). With independent bases the factor
    form equals ΔW(I − A_uA_uᵀ) only up to the overlap AAᵀA_u ≠ A_u, so a leakage of order r²/d stays
    in the leaver's subspace (docs/method.md §2).
    """
    if slotted:
        out = B.clone()
        out[..., cols] = 0
        return out
    a_u = A[:, cols]  # [in, r]
    left = B @ (A.T @ a_u)  # [..., out, r] = ΔW A_u / scaling
    return B - left @ (a_u.T @ A)  # [..., out, S]


def contribution_residual(B: torch.Tensor, A: torch.Tensor, cols: slice) -> torch.Tensor:
    """‖ΔW A_u‖_F / ‖ΔW‖_F: how much of the adapter still lies in the leaver's subspace.

    B : [..., out, S], A : [in, S]. Returns [...] (0 where ΔW = 0). The scaling cancels.
    """
    delta = B @ A.T  # [..., out, in]
    in_u = delta @ A[:, cols]  # [..., out, r]
    num = torch.linalg.matrix_norm(in_u)
    den = torch.linalg.matrix_norm(delta)
    return torch.where(den > 0, num / torch.where(den > 0, den, 1), torch.zeros_like(num))


def resolve_target_modules(model: nn.Module, target_modules: Sequence[str] | str) -> list[str]:
    """Names of the ``nn.Linear`` modules matched by ``target_modules``, in ``model.named_modules()`` order.

    A target matches a module whose full name equals it or ends with ``"." + target`` (peft's rule).
    Every target must match at least one ``nn.Linear``; anything else is a ValueError naming it.
    """
    if isinstance(target_modules, str):
        target_modules = [target_modules]
    targets = list(target_modules)
    if not targets or not all(isinstance(t, str) and t for t in targets):
        raise ValueError(f"target_modules={targets!r}: must be a non-empty list of module names")
    linear = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    names: list[str] = []
    for target in targets:
        hits = [n for n, _ in linear if n == target or n.endswith("." + target)]
        if not hits:
            others = [n for n, m in model.named_modules() if n == target or n.endswith("." + target)]
            what = f"matches only non-Linear modules {others[:3]}" if others else "matches no module"
            examples = ", ".join(sorted({n.rsplit(".", 1)[-1] for n, _ in linear})[:12]) or "none"
            raise ValueError(f"target_modules: {target!r} {what}; nn.Linear module names here: {examples}")
        names.extend(hits)
    order = {n: i for i, (n, _) in enumerate(linear)}
    return sorted(set(names), key=order.__getitem__)


def default_layer_groups(module_names: Sequence[str]) -> dict[str, str]:
    """Split adapted modules into early / mid / late thirds by depth.

    Depth is the first integer component of the module name (``model.layers.3.self_attn.q_proj`` → 3), so the
    projections of one transformer block share a group; names without an integer use their order. With fewer
    than three depths the groups are early/late (two) or mid (one).
    """
    keys: list[Any] = []
    for pos, name in enumerate(module_names):
        ints = [int(p) for p in name.split(".") if p.isdigit()]
        keys.append(ints[0] if ints else ("pos", pos))
    if any(isinstance(k, tuple) for k in keys) and not all(isinstance(k, tuple) for k in keys):
        keys = [("pos", i) for i in range(len(module_names))]
    depths = list(dict.fromkeys(keys))  # unique, first-appearance order
    n_groups = min(3, len(depths))
    names = {1: ("mid",), 2: ("early", "late"), 3: GROUP_NAMES}[n_groups]
    group_of_depth = {}
    for g, chunk in zip(names, np.array_split(np.arange(len(depths)), n_groups)):
        for i in chunk:
            group_of_depth[depths[int(i)]] = g
    return {name: group_of_depth[k] for name, k in zip(module_names, keys)}


# --------------------------------------------------------------------------------------------------


class OrthogonalLoRA:
    """Slotted (or independent) orthonormal LoRA bases on top of peft, with join / leave of devices.

    Parameters
    ----------
    model : any ``torch.nn.Module`` whose targets are ``nn.Linear`` (transformers models included);
        modified in place (peft LoRA layers are injected; every base parameter is frozen).
    target_modules : module names (suffix match, as peft).
    rank : per-device rank r, one int or ``{group: rank}`` (e.g. ``{"early": 4, "mid": 8, "late": 16}``).
    max_devices : number of slots per layer; S = max_devices · r columns in each layer's A and B.
    basis : ``"slotted"`` (exactly orthogonal slots of one seeded QR per layer) or ``"independent"``
        (each device draws its own orthonormal basis: the paper's).
    seed : integer seed of all bases (layer ℓ's slotted Q and every independent draw derive from it).
    layer_groups : ``{module name: group}``; default: early/mid/late thirds by depth
        (:func:`default_layer_groups`).
    scaling : the LoRA scale in ΔW = scaling · B Aᵀ (the same for every layer).
    ownership : ``"block"`` (default: inside :meth:`owned_by`, a device's gradient reaches only its
        own block) or ``"shared"`` (the paper's looser reading: every member block is trained by every
        device).

    Slots not owned by a member never receive gradient (a hook masks them), so they stay exactly zero.
    """

    def __init__(
        self,
        model: nn.Module,
        target_modules: Sequence[str] | str,
        rank: int | Mapping[str, int] = 8,
        *,
        max_devices: int = 8,
        basis: str = "slotted",
        seed: int = 0,
        layer_groups: Mapping[str, str] | None = None,
        scaling: float = 1.0,
        ownership: str = "block",
    ) -> None:
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

        self.model = model
        self.max_devices = int(max_devices)
        self.basis_kind = basis
        self.seed = int(seed)
        self.ownership = ownership
        self._scaling = float(scaling)

        names = resolve_target_modules(model, target_modules)
        self.module_names: list[str] = names
        self.layer_groups: dict[str, str] = self._check_groups(names, layer_groups)
        self.groups: dict[str, list[str]] = {}
        for name in names:  # model order, so groups come out early → late
            self.groups.setdefault(self.layer_groups[name], []).append(name)
        self._ranks = self._check_ranks(rank)
        in_features = {n: model.get_submodule(n).in_features for n in names}
        for name in names:
            r, d, g = self._ranks[name], in_features[name], self.layer_groups[name]
            if basis == "slotted" and r * self.max_devices > d:
                raise ValueError(
                    f"rank={r} for layer {name!r} (group {g!r}): slotted bases need max_devices * rank = "
                    f"{self.max_devices} * {r} = {r * self.max_devices} <= in_features={d}; "
                    "lower the rank or max_devices"
                )
            if r > d:
                raise ValueError(f"rank={r} for layer {name!r} (group {g!r}): exceeds in_features={d}")

        self._inject(names)

        # slot table: who owns which slot, and which independent draw fills each slot's basis
        self._slot_of: dict[Hashable, int] = {}
        self._never_used: list[int] = list(range(self.max_devices))
        self._vacated: list[int] = []  # FIFO of freed slots: reused only after every never-used slot is taken
        self._slot_draw: dict[int, int] = {}  # independent bases: slot -> draw number of the basis it holds
        self._next_draw = 0
        self._active_cols: set[int] | None = None  # set by owned_by(); None -> every member slot
        self._masks: dict[str, torch.Tensor] = {}
        self._hooks = [
            self.lora_layer(n).lora_B[_ADAPTER].weight.register_hook(self._grad_hook(n)) for n in names
        ]
        self._refresh_masks()

    # ---------------------------------------------------------------------------------------------- set-up
    def _check_groups(self, names: list[str], layer_groups: Mapping[str, str] | None) -> dict[str, str]:
        if layer_groups is None:
            return default_layer_groups(names)
        if not isinstance(layer_groups, Mapping):
            raise ValueError(f"layer_groups={layer_groups!r}: must be a mapping module name -> group name")
        unknown = [k for k in layer_groups if k not in names]
        if unknown:
            raise ValueError(
                f"layer_groups: {unknown[0]!r} is not an adapted module; adapted modules: {names}"
            )
        missing = [n for n in names if n not in layer_groups]
        if missing:
            raise ValueError(f"layer_groups: adapted module {missing[0]!r} has no group")
        bad = [(k, v) for k, v in layer_groups.items() if not isinstance(v, str) or not v]
        if bad:
            raise ValueError(
                f"layer_groups[{bad[0][0]!r}]={bad[0][1]!r}: group names must be non-empty strings"
            )
        return {n: layer_groups[n] for n in names}

    def _check_ranks(self, rank: int | Mapping[str, int]) -> dict[str, int]:
        def ok(r: Any) -> bool:
            return isinstance(r, int | np.integer) and not isinstance(r, bool) and r >= 1

        if isinstance(rank, Mapping):
            for g in self.groups:
                if g not in rank:
                    raise ValueError(f"rank: no rank for layer group {g!r} (groups: {list(self.groups)})")
            for g, r in rank.items():
                if not ok(r):
                    raise ValueError(f"rank[{g!r}]={r!r}: must be an integer >= 1")
            return {n: int(rank[self.layer_groups[n]]) for n in self.module_names}
        if not ok(rank):
            raise ValueError(f"rank={rank!r}: must be an integer >= 1 or a mapping group -> rank")
        return {n: int(rank) for n in self.module_names}

    def _inject(self, names: list[str]) -> None:
        from peft import LoraConfig, inject_adapter_in_model  # deferred: peft pulls transformers (~4 s)

        widths = {n: self.width(n) for n in names}
        config = LoraConfig(
            r=widths[names[0]],
            lora_alpha=widths[names[0]],
            target_modules=list(names),
            rank_pattern={re.escape(n): w for n, w in widths.items()},
            alpha_pattern={re.escape(n): w for n, w in widths.items()},
            lora_dropout=0.0,
            bias="none",
        )
        inject_adapter_in_model(config, self.model, adapter_name=_ADAPTER)
        for p in self.model.parameters():
            p.requires_grad_(False)
        for n in names:
            layer = self.lora_layer(n)
            a_w, b_w = layer.lora_A[_ADAPTER].weight, layer.lora_B[_ADAPTER].weight  # [S, in], [out, S]
            if tuple(a_w.shape) != (widths[n], layer.in_features):
                raise RuntimeError(
                    f"peft gave layer {n!r} lora_A of shape {tuple(a_w.shape)}, expected "
                    f"{(widths[n], layer.in_features)}"
                )
            layer.scaling[_ADAPTER] = self._scaling
            with torch.no_grad():
                if self.basis_kind == "slotted":
                    q = slotted_basis(
                        layer.in_features,
                        self._ranks[n],
                        self.max_devices,
                        seed=self.seed,
                        layer_index=self.module_names.index(n),
                    )
                    a_w.copy_(torch.from_numpy(q.T))
                else:
                    a_w.zero_()  # filled per device on join
                b_w.zero_()
            b_w.requires_grad_(True)

    # ---------------------------------------------------------------------------------------------- accessors
    def lora_layer(self, name: str) -> nn.Module:
        """The peft LoRA layer at ``name`` (``lora_A``, ``lora_B``, ``scaling``, ``base_layer``)."""
        self._check_name(name)
        return self.model.get_submodule(name)

    def rank(self, name: str) -> int:
        """Per-device rank r of layer ``name``."""
        self._check_name(name)
        return self._ranks[name]

    def width(self, name: str) -> int:
        """S = max_devices · rank: columns of the layer's A and B."""
        return self.max_devices * self.rank(name)

    def scaling(self, name: str) -> float:
        """The LoRA scale of layer ``name`` (ΔW = scaling · B Aᵀ)."""
        self._check_name(name)
        return float(self.lora_layer(name).scaling[_ADAPTER])

    @property
    def members(self) -> list[Hashable]:
        """Active device ids, in slot order."""
        return sorted(self._slot_of, key=self._slot_of.__getitem__)

    @property
    def free_slot(self) -> int | None:
        """The slot the next join takes: the lowest never-used slot; once all are taken, the oldest
        freed slot whose block is exactly zero (docs/method.md: reuse only after the block is zero).
        None when none is free."""
        if self._never_used:
            return self._never_used[0]
        for s in self._vacated:
            if self._slot_is_zero(s):
                return s
        return None

    @property
    def retired_slots(self) -> list[int]:
        """Freed slots whose block is not zero (independent bases: the leave leaves a residual)."""
        return [s for s in self._vacated if not self._slot_is_zero(s)]

    def slot_of(self, device: Hashable) -> int:
        self._check_member(device)
        return self._slot_of[device]

    def slot_columns(self, device: Hashable, name: str) -> slice:
        """Columns of ``device``'s block in layer ``name``'s A and B."""
        r = self.rank(name)
        s = self.slot_of(device)
        return slice(s * r, (s + 1) * r)

    def basis_matrix(self, name: str) -> torch.Tensor:
        """A : [in_features, S], all slots' bases side by side (a read-only view of lora_A; do not write)."""
        return self.lora_layer(name).lora_A[_ADAPTER].weight.detach().T

    def basis(self, device: Hashable, name: str) -> torch.Tensor:
        """A_i : [in_features, r], the device's frozen basis (a copy)."""
        return self.basis_matrix(name)[:, self.slot_columns(device, name)].clone()

    def block(self, device: Hashable, name: str) -> torch.Tensor:
        """B_i : [out_features, r], a live view: writing into it changes the adapter."""
        cols = self.slot_columns(device, name)
        return self.lora_layer(name).lora_B[_ADAPTER].weight.detach()[:, cols]

    def delta_weight(self, name: str) -> torch.Tensor:
        """ΔW = scaling · Σ_i B_i A_iᵀ : [out_features, in_features]."""
        b_w = self.lora_layer(name).lora_B[_ADAPTER].weight.detach()
        return self.scaling(name) * (b_w @ self.basis_matrix(name).T)

    def parameters(self) -> list[nn.Parameter]:
        """The trainable tensors: each layer's lora_B weight [out, S], in module order."""
        return [self.lora_layer(n).lora_B[_ADAPTER].weight for n in self.module_names]

    def gradient_mask(self, name: str, devices: Sequence[Hashable] | None = None) -> torch.Tensor:
        """Column mask [S] (float, 1 on the blocks of ``devices``; default: every member) for a gradient."""
        slots = [self.slot_of(d) for d in devices] if devices is not None else list(self._slot_of.values())
        return self._cols_mask(name, slots)

    # ---------------------------------------------------------------------------------------------- events
    def add_device(
        self,
        device: Hashable,
        slot: int | None = None,
        *,
        init: Mapping[str, torch.Tensor] | None = None,
    ) -> int:
        """Give ``device`` a free slot and return it. Its block starts at zero, or at ``init[name]`` [out, r]
        (a warm start); with independent bases the device draws its own basis into the slot."""
        if device in self._slot_of:
            raise ValueError(f"device {device!r} is already a member (slot {self._slot_of[device]})")
        if slot is None:
            slot = self.free_slot
            if slot is None:
                retired = (
                    f"; {len(self.retired_slots)} freed slot(s) still hold a nonzero block"
                    if self._vacated
                    else ""
                )
                raise ValueError(
                    f"device {device!r}: no free slot, all max_devices={self.max_devices} slots "
                    f"are taken{retired}; build OrthogonalLoRA with a larger max_devices "
                    f"(e.g. max_devices={2 * self.max_devices})"
                )
        else:
            ok = (
                isinstance(slot, int | np.integer)
                and not isinstance(slot, bool)
                and 0 <= slot < self.max_devices
            )
            if not ok:
                raise ValueError(f"slot={slot!r}: must be an integer in [0, {self.max_devices - 1}]")
            slot = int(slot)
            if slot in self._slot_of.values():
                owner = next(d for d, s in self._slot_of.items() if s == slot)
                raise ValueError(f"slot={slot}: owned by device {owner!r}")
            if slot in self._vacated and not self._slot_is_zero(slot):
                raise ValueError(
                    f"slot={slot}: its block is not zero yet (a freed slot is reused only once zero)"
                )
        if init is not None:
            self._check_init(init, slot)
        if slot in self._never_used:
            self._never_used.remove(slot)
        if slot in self._vacated:
            self._vacated.remove(slot)
        self._slot_of[device] = slot
        with torch.no_grad():
            for idx, name in enumerate(self.module_names):
                layer = self.lora_layer(name)
                r = self._ranks[name]
                cols = slice(slot * r, (slot + 1) * r)
                if self.basis_kind == "independent":
                    a = independent_basis(
                        layer.in_features, r, seed=self.seed, layer_index=idx, draw=self._next_draw
                    )
                    layer.lora_A[_ADAPTER].weight[cols, :] = torch.from_numpy(a.T).to(
                        layer.lora_A[_ADAPTER].weight
                    )
                b_w = layer.lora_B[_ADAPTER].weight
                b_w[:, cols] = 0 if init is None else init[name].to(b_w)
        if self.basis_kind == "independent":
            self._slot_draw[slot] = self._next_draw
            self._next_draw += 1
        self._refresh_masks()
        return slot

    def remove_device(self, device: Hashable) -> dict[str, float]:
        """Project ``device`` out of every adapted layer (B ← B − B(AᵀA_u)(A_uᵀA)) and free its slot.

        Returns the leakage per layer, ‖ΔW'A_u‖_F / ‖ΔW A_u‖_F (what remains in the leaver's
        subspace, relative to what was there; 0.0 when nothing was): float round-off (~1e-7) for
        slotted bases, O((M−1) r/d) for independent ones. With independent bases the freed slot keeps
        its basis and a nonzero residual block, so it is retired (never reused) until that block is 0.
        """
        self._check_member(device)
        leakage = {}
        with torch.no_grad():
            for name in self.module_names:
                b_w = self.lora_layer(name).lora_B[_ADAPTER].weight
                a = self.basis_matrix(name)
                cols = self.slot_columns(device, name)
                a_u = a[:, cols]
                before = torch.linalg.matrix_norm(b_w @ (a.T @ a_u))
                b_w.copy_(self.project_out(b_w, name, device))
                after = torch.linalg.matrix_norm(b_w @ (a.T @ a_u))
                leakage[name] = float(after / before) if before > 0 else 0.0
        slot = self._slot_of.pop(device)
        self._vacated.append(slot)
        self._refresh_masks()
        return leakage

    def project_out(self, B: torch.Tensor, name: str, device: Hashable) -> torch.Tensor:
        """The leave projection of ``device`` applied to B : [..., out, S] of layer ``name`` (e.g.
        every device's copy at once). Call it before :meth:`remove_device` (which frees the slot)."""
        return project_out(
            B, self.basis_matrix(name), self.slot_columns(device, name), slotted=self.basis_kind == "slotted"
        )

    # ---------------------------------------------------------------------------------------------- training
    @contextlib.contextmanager
    def owned_by(self, device: Hashable) -> Iterator[None]:
        """Inside the block, gradients reach only ``device``'s block (ownership="block") or every member block
        (ownership="shared", the paper's looser reading)."""
        self._check_member(device)
        previous = self._active_cols
        self._active_cols = {self._slot_of[device]} if self.ownership == "block" else None
        self._refresh_masks()
        try:
            yield
        finally:
            self._active_cols = previous
            self._refresh_masks()

    def _grad_hook(self, name: str):
        def hook(grad: torch.Tensor) -> torch.Tensor:
            return grad * self._masks[name].to(grad)  # [out, S] * [S]: zero outside the allowed blocks

        return hook

    def _cols_mask(self, name: str, slots: Sequence[int]) -> torch.Tensor:
        r = self.rank(name)
        mask = torch.zeros(self.max_devices)
        mask[list(slots)] = 1.0
        return mask.repeat_interleave(r)  # [S]

    def _refresh_masks(self) -> None:
        members = set(self._slot_of.values())
        slots = members if self._active_cols is None else (self._active_cols & members)
        self._masks = {n: self._cols_mask(n, sorted(slots)) for n in self.module_names}

    # ---------------------------------------------------------------------------------------------- state
    def adapter_state(self) -> dict[str, torch.Tensor]:
        """What devices exchange: each layer's B : [out, S] (a copy), keyed by module name.
        A is never sent."""
        return {n: self.lora_layer(n).lora_B[_ADAPTER].weight.detach().clone() for n in self.module_names}

    def load_adapter_state(self, state: Mapping[str, torch.Tensor]) -> None:
        """Write B back from :meth:`adapter_state`'s format. Never-used slots must be zero in ``state``."""
        if not isinstance(state, Mapping):
            raise ValueError(
                f"adapter state: must be a mapping module name -> tensor, got {type(state).__name__}"
            )
        missing = [n for n in self.module_names if n not in state]
        extra = [k for k in state if k not in self.module_names]
        if missing or extra:
            what = f"missing layer {missing[0]!r}" if missing else f"unknown layer {extra[0]!r}"
            raise ValueError(f"adapter state: {what}; expected layers {self.module_names}")
        free = self._never_used  # freed slots may legitimately hold a residual (independent bases)
        for n in self.module_names:
            t = state[n]
            shape = tuple(self.lora_layer(n).lora_B[_ADAPTER].weight.shape)
            if not isinstance(t, torch.Tensor) or tuple(t.shape) != shape:
                got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                raise ValueError(f"adapter state for {n!r}: shape {got} does not match the adapter's {shape}")
            if not torch.isfinite(t).all():
                raise ValueError(f"adapter state for {n!r}: contains NaN or inf")
            r = self._ranks[n]
            for s in free:
                if torch.any(t[:, s * r : (s + 1) * r] != 0):
                    raise ValueError(f"adapter state for {n!r}: unused slot {s} is not zero")
        with torch.no_grad():
            for n in self.module_names:
                w = self.lora_layer(n).lora_B[_ADAPTER].weight
                w.copy_(state[n].to(w))

    def slot_table(self) -> dict[str, Any]:
        """The JSON-able config and slot table: enough, with the seeds, to rebuild every basis."""
        return {
            "format": _FORMAT,
            "basis": self.basis_kind,
            "seed": self.seed,
            "max_devices": self.max_devices,
            "scaling": self._scaling,
            "ownership": self.ownership,
            "module_names": list(self.module_names),
            "layer_groups": dict(self.layer_groups),
            "ranks": dict(self._ranks),
            "members": [[d, self._slot_of[d]] for d in self.members],
            "never_used": list(self._never_used),
            "vacated": list(self._vacated),
            "slot_draws": [[s, d] for s, d in sorted(self._slot_draw.items())],
            "next_draw": self._next_draw,
        }

    def load_slot_table(self, table: Mapping[str, Any]) -> None:
        """Restore the slot table (and the independent bases it names) from :meth:`slot_table`'s output.
        The configuration must match this adapter's; B is left as is (see :meth:`load_adapter_state`)."""
        if table.get("format") != _FORMAT:
            raise ValueError(f"slot table format={table.get('format')!r}: expected {_FORMAT!r}")
        mine = self.slot_table()
        for key in ("basis", "seed", "max_devices", "module_names", "ranks", "layer_groups"):
            if table.get(key) != mine[key]:
                raise ValueError(f"slot table {key}={table.get(key)!r}: this adapter has {mine[key]!r}")
        members = {(d if not isinstance(d, list) else tuple(d)): int(s) for d, s in table["members"]}
        self._slot_of = dict(sorted(members.items(), key=lambda kv: kv[1]))
        self._never_used = [int(s) for s in table["never_used"]]
        self._vacated = [int(s) for s in table["vacated"]]
        self._slot_draw = {int(s): int(d) for s, d in table["slot_draws"]}
        self._next_draw = int(table["next_draw"])
        if self.basis_kind == "independent":
            with torch.no_grad():
                for idx, name in enumerate(self.module_names):
                    layer = self.lora_layer(name)
                    a_w = layer.lora_A[_ADAPTER].weight
                    a_w.zero_()
                    r = self._ranks[name]
                    for s, draw in self._slot_draw.items():
                        a = independent_basis(
                            layer.in_features, r, seed=self.seed, layer_index=idx, draw=draw
                        )
                        a_w[s * r : (s + 1) * r, :] = torch.from_numpy(a.T).to(a_w)
        self._refresh_masks()

    def save(self, path: str | Path) -> Path:
        """Write B and the slot table to one safetensors file (the table as JSON metadata)."""
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {n: t.contiguous() for n, t in self.adapter_state().items()}
        save_file(tensors, str(path), metadata={"wirelora": json.dumps(self.slot_table())})
        return path

    def load(self, path: str | Path) -> None:
        """Restore B and the slot table saved by :meth:`save` into this (identically configured) adapter."""
        table, tensors = _read(path)
        self.load_slot_table(table)
        self.load_adapter_state(tensors)

    @classmethod
    def from_file(cls, model: nn.Module, path: str | Path) -> OrthogonalLoRA:
        """Wrap a fresh ``model`` with the configuration saved in ``path`` and restore its state (resume)."""
        table, tensors = _read(path)
        ranks = table["ranks"]
        ol = cls(
            model,
            target_modules=table["module_names"],
            rank=ranks[table["module_names"][0]]
            if len(set(ranks.values())) == 1
            else {table["layer_groups"][n]: r for n, r in ranks.items()},
            max_devices=table["max_devices"],
            basis=table["basis"],
            seed=table["seed"],
            layer_groups=table["layer_groups"],
            scaling=table["scaling"],
            ownership=table["ownership"],
        )
        ol.load_slot_table(table)
        ol.load_adapter_state(tensors)
        return ol

    # ---------------------------------------------------------------------------------------------- helpers
    def _check_name(self, name: str) -> None:
        if name not in self._ranks:
            raise ValueError(f"layer {name!r} is not adapted; adapted layers: {self.module_names}")

    def _check_member(self, device: Hashable) -> None:
        if device not in self._slot_of:
            raise ValueError(f"device {device!r} is not a member; members are {self.members}")

    def _slot_is_zero(self, slot: int) -> bool:
        for n in self.module_names:
            r = self._ranks[n]
            if torch.any(
                self.lora_layer(n).lora_B[_ADAPTER].weight.detach()[:, slot * r : (slot + 1) * r] != 0
            ):
                return False
        return True

    def _check_init(self, init: Mapping[str, torch.Tensor], slot: int) -> None:
        for n in self.module_names:
            if n not in init:
                raise ValueError(f"init: missing block for layer {n!r}")
            want = (self.lora_layer(n).out_features, self._ranks[n])
            got = tuple(init[n].shape) if isinstance(init[n], torch.Tensor) else None
            if got != want:
                raise ValueError(f"init[{n!r}]: shape {got} does not match the block's {want}")

    def __repr__(self) -> str:
        return (
            f"OrthogonalLoRA(basis={self.basis_kind!r}, layers={len(self.module_names)}, "
            f"max_devices={self.max_devices}, members={self.members})"
        )


def _read(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"adapter file {str(path)!r}: no such file")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        if "wirelora" not in meta:
            raise ValueError(f"adapter file {str(path)!r}: no wirelora slot table in its metadata")
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    return json.loads(meta["wirelora"]), tensors
