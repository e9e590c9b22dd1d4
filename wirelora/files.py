"""Files that survive a kill: atomic writes, and one tensor-file format (safetensors holding a JSON tree) with
an integrity check, used for checkpoints and caches. No pickle anywhere.

    atomic_write_bytes(path, data)       # temp file in the same folder, fsync, rename; mode 0644 (umask)
    save_tree(path, {"round": 3, "blocks": {"l0": t}, ...})   # tensors / arrays / scalars / dicts / lists
    tree = load_tree(path)               # CheckpointError naming the file on any corruption or foreign file
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from wirelora.errors import CheckpointError

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "remove_stale_temps",
    "save_tree",
    "load_tree",
    "FORMAT",
]

FORMAT = "wirelora-tree/1"


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask  # what open() would give: mkstemp's 0600 is for secrets, not results


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: a kill leaves the old file or the new
    one, and no temporary file behind (it is removed on any exception; a SIGKILL can leave a ``.*.tmp``, which
    :func:`remove_stale_temps` clears)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def remove_stale_temps(folder: str | Path) -> None:
    """Delete the temporary files a killed writer left in ``folder`` (``.NAME.*.tmp``)."""
    for p in Path(folder).glob(".*.tmp"):
        p.unlink(missing_ok=True)


def _pack(node: Any, tensors: dict, path: str) -> Any:
    import numpy as np
    import torch

    if isinstance(node, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = node.detach().cpu().contiguous().clone()
        return {"__tensor__": key}
    if isinstance(node, np.ndarray):
        key = f"t{len(tensors)}"
        tensors[key] = torch.from_numpy(np.ascontiguousarray(node).copy())
        return {"__ndarray__": key}
    if isinstance(node, np.generic):
        return node.item()
    if isinstance(node, dict):
        if all(isinstance(k, str) for k in node) and not (
            {"__tensor__", "__ndarray__", "__items__"} & set(node)
        ):
            return {k: _pack(v, tensors, f"{path}.{k}") for k, v in node.items()}
        return {
            "__items__": [
                [_pack(k, tensors, path), _pack(v, tensors, f"{path}.{k}")] for k, v in node.items()
            ]
        }
    if isinstance(node, tuple):
        return {"__tuple__": [_pack(v, tensors, path) for v in node]}
    if isinstance(node, list):
        return [_pack(v, tensors, path) for v in node]
    if node is None or isinstance(node, bool | int | float | str):
        return node
    raise TypeError(f"{path or 'tree'}: cannot store a {type(node).__name__}")


def _unpack(node: Any, tensors: dict) -> Any:
    if isinstance(node, dict):
        if "__tensor__" in node:
            return tensors[node["__tensor__"]]
        if "__ndarray__" in node:
            return tensors[node["__ndarray__"]].numpy()
        if "__tuple__" in node:
            return tuple(_unpack(v, tensors) for v in node["__tuple__"])
        if "__items__" in node:
            return {_freeze(_unpack(k, tensors)): _unpack(v, tensors) for k, v in node["__items__"]}
        return {k: _unpack(v, tensors) for k, v in node.items()}
    if isinstance(node, list):
        return [_unpack(v, tensors) for v in node]
    return node


def _freeze(key: Any) -> Any:
    return tuple(_freeze(k) for k in key) if isinstance(key, list | tuple) else key


def _digest(skeleton: str, tensors: dict) -> str:
    import torch

    h = hashlib.sha256(skeleton.encode("utf-8"))
    for key in sorted(tensors):
        t = tensors[key]
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_tree(path: str | Path, tree: Any) -> None:
    """Store ``tree`` in one safetensors file (atomically): its tensors as tensors, the rest as JSON in the
    header, and a SHA-256 over both that :func:`load_tree` checks."""
    from safetensors.torch import save

    tensors: dict = {}
    skeleton = json.dumps(_pack(tree, tensors, ""), allow_nan=True)
    meta = {"format": FORMAT, "tree": skeleton, "sha256": _digest(skeleton, tensors)}
    atomic_write_bytes(path, save(tensors, metadata=meta))


def load_tree(path: str | Path) -> Any:
    """The tree :func:`save_tree` stored in ``path``; :class:`CheckpointError` (one line naming the file) when
    the file is missing, is not a file, is truncated, is not a wirelora tree file, or fails its SHA-256."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    name = f"{str(path)!r}"
    if not path.exists():
        raise CheckpointError(f"{name}: no such file")
    if not path.is_file():
        raise CheckpointError(f"{name}: not a regular file")
    data = path.read_bytes()
    try:
        n = int.from_bytes(data[:8], "little")
        if len(data) < 8 or n > len(data) - 8:
            raise CheckpointError(f"{name}: truncated or not a safetensors file")
        header = json.loads(data[8 : 8 + n])
        meta = header.get("__metadata__") or {}
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise CheckpointError(f"{name}: not a wirelora checkpoint (format {meta.get('format')!r})")
        tensors = load(data)
        skeleton = meta["tree"]
        if _digest(skeleton, tensors) != meta.get("sha256"):
            raise CheckpointError(f"{name}: SHA-256 mismatch (the file is corrupted)")
        return _unpack(json.loads(skeleton), tensors)
    except CheckpointError:
        raise
    except (SafetensorError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(
            f"{name}: unreadable ({type(exc).__name__}: {' '.join(str(exc).split())[:120]})"
        ) from None
