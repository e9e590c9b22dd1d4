"""An adapter on disk: one safetensors file holding every layer's B [out, S] under its module name, and the
slot table (configuration, members, basis draws) as JSON in the file's metadata under ``"wirelora"``.
A is never stored: the seeds in the table rebuild it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

__all__ = ["write_adapter", "read_adapter"]


def write_adapter(path: str | Path, tensors: Mapping[str, torch.Tensor], table: Mapping[str, Any]) -> Path:
    """Write ``tensors`` and the JSON-able ``table`` to the safetensors file ``path`` (parents created)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(
        {n: t.contiguous() for n, t in tensors.items()}, str(path), metadata={"wirelora": json.dumps(table)}
    )
    return path


def read_adapter(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(slot table, {module name: B}) from a file :func:`write_adapter` wrote; a ValueError naming the file if
    it is missing or has no wirelora table."""
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
