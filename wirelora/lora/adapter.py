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
projection to all copies at once with :meth:`OrthogonalLoRA.project_out`, and restricts their updates with
:meth:`OrthogonalLoRA.ownership_mask`.

The facade over config, injection (peft), slots (the column formula), ownership, projection and io.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wirelora.lora.bases import independent_basis
from wirelora.lora.config import AdapterConfig
from wirelora.lora.injection import ADAPTER, inject, peft_enabled, set_peft_enabled
from wirelora.lora.io import read_adapter, write_adapter
from wirelora.lora.ownership import GradientGate, own_index, ownership_mask
from wirelora.lora.projection import leave_leakage, project_out
from wirelora.lora.slots import SlotTable

__all__ = ["OrthogonalLoRA"]

_FORMAT = "wirelora-orthogonal-lora/1"


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
        (:func:`~wirelora.lora.config.default_layer_groups`).
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
        self.config = AdapterConfig.build(
            model,
            target_modules,
            rank,
            max_devices=max_devices,
            basis=basis,
            seed=seed,
            layer_groups=layer_groups,
            scaling=scaling,
            ownership=ownership,
        )
        c = self.config
        self.model = model
        self.max_devices = c.max_devices
        self.basis_kind = c.basis
        self.seed = c.seed
        self.ownership = c.ownership
        self.module_names: list[str] = c.module_names
        self.layer_groups: dict[str, str] = c.layer_groups
        self.groups: dict[str, list[str]] = c.groups()
        inject(model, c)
        self.slots = SlotTable(c.max_devices)
        self._gate = GradientGate(
            self.slots, c.ranks, {n: self.b_weight(n) for n in c.module_names}, c.ownership
        )

    # ---------------------------------------------------------------------------------------------- accessors
    def lora_layer(self, name: str) -> nn.Module:
        """The peft LoRA layer at ``name`` (``lora_A``, ``lora_B``, ``scaling``, ``base_layer``)."""
        self._check_name(name)
        return self.model.get_submodule(name)

    def b_weight(self, name: str) -> nn.Parameter:
        """The live lora_B weight B : [out, S] of layer ``name`` (the trainable tensor)."""
        return self.lora_layer(name).lora_B[ADAPTER].weight

    def rank(self, name: str) -> int:
        """Per-device rank r of layer ``name``."""
        self._check_name(name)
        return self.config.ranks[name]

    def width(self, name: str) -> int:
        """S = max_devices · rank: columns of the layer's A and B."""
        return self.max_devices * self.rank(name)

    def scaling(self, name: str) -> float:
        """The LoRA scale of layer ``name`` (ΔW = scaling · B Aᵀ)."""
        return float(self.lora_layer(name).scaling[ADAPTER])

    @property
    def members(self) -> list[Hashable]:
        """Active device ids, in slot order."""
        return self.slots.members

    @property
    def free_slot(self) -> int | None:
        """The slot the next join takes: the lowest never-used slot; once all are taken, the oldest
        freed slot whose block is exactly zero (docs/method.md: reuse only after the block is zero).
        None when none is free."""
        return self.slots.free_slot(self._slot_is_zero)

    @property
    def retired_slots(self) -> list[int]:
        """Freed slots whose block is not zero (independent bases: the leave leaves a residual)."""
        return [s for s in self.slots.vacated if not self._slot_is_zero(s)]

    def slot_of(self, device: Hashable) -> int:
        return self.slots.slot_of(device)

    def slot_columns(self, device: Hashable, name: str) -> slice:
        """Columns of ``device``'s block in layer ``name``'s A and B."""
        return self.slots.columns(self.slot_of(device), self.rank(name))

    def basis_matrix(self, name: str) -> torch.Tensor:
        """A : [in_features, S], all slots' bases side by side (a read-only view of lora_A; do not write)."""
        return self.lora_layer(name).lora_A[ADAPTER].weight.detach().T

    def basis(self, device: Hashable, name: str) -> torch.Tensor:
        """A_i : [in_features, r], the device's frozen basis (a copy)."""
        return self.basis_matrix(name)[:, self.slot_columns(device, name)].clone()

    def block(self, device: Hashable, name: str) -> torch.Tensor:
        """B_i : [out_features, r], a live view: writing into it changes the adapter."""
        return self.b_weight(name).detach()[:, self.slot_columns(device, name)]

    def delta_weight(self, name: str) -> torch.Tensor:
        """ΔW = scaling · Σ_i B_i A_iᵀ : [out_features, in_features]."""
        return self.scaling(name) * (self.b_weight(name).detach() @ self.basis_matrix(name).T)

    def parameters(self) -> list[nn.Parameter]:
        """The trainable tensors: each layer's lora_B weight [out, S], in module order."""
        return [self.b_weight(n) for n in self.module_names]

    # ---------------------------------------------------------------------------------------------- ownership
    def gradient_mask(self, name: str, devices: Sequence[Hashable] | None = None) -> torch.Tensor:
        """Column mask [S] (float, 1 on the blocks of ``devices``; default: every member) for a gradient."""
        slots = [self.slot_of(d) for d in devices] if devices is not None else self.slots.occupied
        return self.slots.column_mask(slots, self.rank(name))

    def ownership_mask(
        self, name: str, devices: Sequence[Hashable], *, device: torch.device | str = "cpu"
    ) -> torch.Tensor:
        """[M, 1, S] float on ``device``: 1 where the copy of row m (device ``devices[m]``) may change layer
        ``name``: its own block (ownership="block") or every listed device's block ("shared")."""
        rows = [self.slot_of(d) for d in devices]
        return ownership_mask(self.slots, self.rank(name), rows, self.ownership, device=device)

    def own_index(
        self, name: str, devices: Sequence[Hashable], *, device: torch.device | str = "cpu"
    ) -> torch.Tensor:
        """[M, r] int64 on ``device``: the columns of each device's own block in layer ``name``."""
        return own_index(self.slots, self.rank(name), [self.slot_of(d) for d in devices], device=device)

    @contextlib.contextmanager
    def owned_by(self, device: Hashable) -> Iterator[None]:
        """Inside the block, gradients reach only ``device``'s block (ownership="block") or every member block
        (ownership="shared", the paper's looser reading)."""
        with self._gate.owned_by(self.slot_of(device)):
            yield

    # ---------------------------------------------------------------------------------------------- peft
    def set_peft_enabled(self, on: bool) -> None:
        """Switch peft's LoRA term on (the layers add ΔW) or off (the base model's outputs), through peft's
        public ``enable_adapters``; A stays frozen and B trainable either way."""
        set_peft_enabled([self.lora_layer(n) for n in self.module_names], on)

    def peft_enabled(self, on: bool = True) -> contextlib.AbstractContextManager[None]:
        """A context: inside it peft's LoRA term is ``on``; afterwards it is as it was."""
        return peft_enabled([self.lora_layer(n) for n in self.module_names], on)

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
        if device in self.slots:
            raise ValueError(f"device {device!r} is already a member (slot {self.slot_of(device)})")
        if slot is None:
            slot = self.free_slot
            if slot is None:
                retired = (
                    f"; {len(self.retired_slots)} freed slot(s) still hold a nonzero block"
                    if self.slots.vacated
                    else ""
                )
                raise ValueError(
                    f"device {device!r}: no free slot, all max_devices={self.max_devices} slots "
                    f"are taken{retired}; build OrthogonalLoRA with a larger max_devices "
                    f"(e.g. max_devices={2 * self.max_devices})"
                )
        else:
            slot = self.slots.check_slot(slot, self._slot_is_zero)
        if init is not None:
            self._check_init(init, slot)
        self.slots.assign(device, slot)
        draw = self.slots.take_draw(slot) if self.basis_kind == "independent" else None
        with torch.no_grad():
            for name in self.module_names:
                if draw is not None:
                    self._write_basis(name, slot, draw)
                b_w = self.b_weight(name)
                b_w[:, self.slot_columns(device, name)] = 0 if init is None else init[name].to(b_w)
        self._gate.refresh()
        return slot

    def remove_device(self, device: Hashable) -> dict[str, float]:
        """Project ``device`` out of every adapted layer (B ← B − B(AᵀA_u)(A_uᵀA)) and free its slot.

        Returns the leakage per layer, ‖ΔW'A_u‖_F / ‖ΔW A_u‖_F (what remains in the leaver's
        subspace, relative to what was there; 0.0 when nothing was): float round-off (~1e-7) for
        slotted bases, O((M−1) r/d) for independent ones. With independent bases the freed slot keeps
        its basis and a nonzero residual block, so it is retired (never reused) until that block is 0.
        """
        self.slot_of(device)  # a member, or a ValueError naming it
        leakage = {}
        with torch.no_grad():
            for name in self.module_names:
                b_w = self.b_weight(name)
                after = self.project_out(b_w, name, device)
                leakage[name] = leave_leakage(
                    b_w, after, self.basis_matrix(name), self.slot_columns(device, name)
                )
                b_w.copy_(after)
        self.slots.release(device)
        self._gate.refresh()
        return leakage

    def project_out(self, B: torch.Tensor, name: str, device: Hashable) -> torch.Tensor:
        """The leave projection of ``device`` applied to B : [..., out, S] of layer ``name`` (e.g.
        every device's copy at once). Call it before :meth:`remove_device` (which frees the slot)."""
        return project_out(
            B, self.basis_matrix(name), self.slot_columns(device, name), slotted=self.basis_kind == "slotted"
        )

    # ---------------------------------------------------------------------------------------------- state
    def adapter_state(self) -> dict[str, torch.Tensor]:
        """What devices exchange: each layer's B : [out, S] (a copy), keyed by module name.
        A is never sent."""
        return {n: self.b_weight(n).detach().clone() for n in self.module_names}

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
        free = self.slots.never_used  # freed slots may legitimately hold a residual (independent bases)
        for n in self.module_names:
            t = state[n]
            shape = tuple(self.b_weight(n).shape)
            if not isinstance(t, torch.Tensor) or tuple(t.shape) != shape:
                got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                raise ValueError(f"adapter state for {n!r}: shape {got} does not match the adapter's {shape}")
            if not torch.isfinite(t).all():
                raise ValueError(f"adapter state for {n!r}: contains NaN or inf")
            for s in free:
                if torch.any(t[:, self.slots.columns(s, self.rank(n))] != 0):
                    raise ValueError(f"adapter state for {n!r}: unused slot {s} is not zero")
        with torch.no_grad():
            for n in self.module_names:
                w = self.b_weight(n)
                w.copy_(state[n].to(w))

    def slot_table(self) -> dict[str, Any]:
        """The JSON-able config and slot table: enough, with the seeds, to rebuild every basis."""
        return {"format": _FORMAT, **self.config.to_table(), **self.slots.state_dict()}

    def load_slot_table(self, table: Mapping[str, Any]) -> None:
        """Restore the slot table (and the independent bases it names) from :meth:`slot_table`'s output.
        The configuration must match this adapter's; B is left as is (see :meth:`load_adapter_state`)."""
        if table.get("format") != _FORMAT:
            raise ValueError(f"slot table format={table.get('format')!r}: expected {_FORMAT!r}")
        mine = self.slot_table()
        for key in ("basis", "seed", "max_devices", "module_names", "ranks", "layer_groups"):
            if table.get(key) != mine[key]:
                raise ValueError(f"slot table {key}={table.get(key)!r}: this adapter has {mine[key]!r}")
        self.slots.load_state_dict(table)
        if self.basis_kind == "independent":
            with torch.no_grad():
                for name in self.module_names:
                    self.lora_layer(name).lora_A[ADAPTER].weight.zero_()
                    for s, draw in self.slots.draws.items():
                        self._write_basis(name, s, draw)
        self._gate.refresh()

    def save(self, path: str | Path) -> Path:
        """Write B and the slot table to one safetensors file (the table as JSON metadata)."""
        return write_adapter(path, self.adapter_state(), self.slot_table())

    def load(self, path: str | Path) -> None:
        """Restore B and the slot table saved by :meth:`save` into this (identically configured) adapter."""
        table, tensors = read_adapter(path)
        self.load_slot_table(table)
        self.load_adapter_state(tensors)

    def to_peft(self, path: str | Path, *, compact: bool = True, root: str = "") -> Path:
        """Write the adapter as a standard peft LoRA adapter (:mod:`wirelora.lora.peft_export`); ``root``:
        the submodule that is the Hugging Face model (e.g. ``"encoder"`` in a classifier wrapper)."""
        from wirelora.lora.peft_export import export_adapter

        return export_adapter(self, path, compact=compact, root=root)

    @classmethod
    def from_file(cls, model: nn.Module, path: str | Path) -> OrthogonalLoRA:
        """Wrap a fresh ``model`` with the configuration saved in ``path`` and restore its state (resume)."""
        table, tensors = read_adapter(path)
        ol = cls(model, **AdapterConfig.constructor_kwargs(table))
        ol.load_slot_table(table)
        ol.load_adapter_state(tensors)
        return ol

    # ---------------------------------------------------------------------------------------------- helpers
    def _write_basis(self, name: str, slot: int, draw: int) -> None:
        """Independent bases: write draw ``draw`` of layer ``name``'s seeded basis into ``slot``'s Aᵀ rows."""
        layer = self.lora_layer(name)
        a_w = layer.lora_A[ADAPTER].weight  # [S, in]
        r = self.rank(name)
        a = independent_basis(
            layer.in_features, r, seed=self.seed, layer_index=self.module_names.index(name), draw=draw
        )
        a_w[self.slots.columns(slot, r), :] = torch.from_numpy(a.T).to(a_w)

    def _check_name(self, name: str) -> None:
        if name not in self.config.ranks:
            raise ValueError(f"layer {name!r} is not adapted; adapted layers: {self.module_names}")

    def _slot_is_zero(self, slot: int) -> bool:
        return not any(
            torch.any(self.b_weight(n).detach()[:, self.slots.columns(slot, self.rank(n))] != 0)
            for n in self.module_names
        )

    def _check_init(self, init: Mapping[str, torch.Tensor], slot: int) -> None:
        for n in self.module_names:
            if n not in init:
                raise ValueError(f"init: missing block for layer {n!r}")
            want = (self.lora_layer(n).out_features, self.rank(n))
            got = tuple(init[n].shape) if isinstance(init[n], torch.Tensor) else None
            if got != want:
                raise ValueError(f"init[{n!r}]: shape {got} does not match the block's {want}")

    def __repr__(self) -> str:
        return (
            f"OrthogonalLoRA(basis={self.basis_kind!r}, layers={len(self.module_names)}, "
            f"max_devices={self.max_devices}, members={self.members})"
        )
