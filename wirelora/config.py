"""Configs: YAML/JSON files -> frozen dataclasses, with dotted overrides (``--set trainer.rounds=20``).

This module holds the generic machinery only; each config dataclass lives beside the code it configures and
validates itself in ``__post_init__`` with :func:`require` (errors name the field and the bad value).

    raw = load_mapping("run.yaml")                       # dict (``base:`` resolved), or ConfigError
    raw = apply_overrides(raw, ["trainer.rounds=20"])    # values parsed as YAML scalars
    cfg = from_dict(RunConfig, raw)                      # unknown keys -> ConfigError
    to_jsonable(cfg)                                     # back to plain JSON-able data (NaN -> None)
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "ConfigError",
    "require",
    "check_positive",
    "check_nonnegative",
    "check_probability",
    "check_choice",
    "load_mapping",
    "apply_overrides",
    "from_dict",
    "to_jsonable",
]


class ConfigError(ValueError):
    """A bad config value or file. The message is one line naming the field, the value and what is allowed."""


def require(ok: bool, field: str, value: Any, allowed: str) -> None:
    """Raise ConfigError(f"{field}={value!r}: {allowed}") unless ``ok``."""
    if not ok:
        raise ConfigError(f"{field}={value!r}: {allowed}")


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_positive(field: str, value: Any) -> None:
    require(_is_real(value) and value > 0, field, value, "must be a finite number > 0")


def check_nonnegative(field: str, value: Any) -> None:
    require(_is_real(value) and value >= 0, field, value, "must be a finite number >= 0")


def check_probability(field: str, value: Any) -> None:
    require(_is_real(value) and 0 <= value <= 1, field, value, "must be a number in [0, 1]")


def check_choice(field: str, value: Any, choices: Sequence[str]) -> None:
    require(value in choices, field, value, f"must be one of {', '.join(map(str, choices))}")


MAX_DEPTH = 64  # deeper nesting is never a config; refusing it keeps the parsers off Python's recursion limit
# before parsing, brackets are counted in the raw text (strings included), so that bound is looser: it only
# has to stay below the parsers' recursion depth; the parsed data is then held to MAX_DEPTH exactly
_BRACKETS_MAX = 500


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[Any, Any]]) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _yaml_loader():
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader that refuses a key given twice in one mapping (YAML says keys are unique)."""

        def construct_mapping(self, node, deep=False):
            self.flatten_mapping(node)
            pairs = [
                (self.construct_object(k, deep=deep), self.construct_object(v, deep=deep))
                for k, v in node.value
            ]
            try:
                return _no_duplicates(pairs)
            except TypeError:  # an unhashable key
                raise yaml.constructor.ConstructorError(
                    None, None, "found an unhashable key", node.start_mark
                ) from None

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, Loader.construct_mapping)
    return Loader


def _depth(data: Any) -> int:
    """Nesting depth of lists and mappings, computed without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, d)
            if d <= MAX_DEPTH:
                stack.extend((v, d + 1) for v in (node.values() if isinstance(node, dict) else node))
    return deepest


def _nesting(text: str) -> int:
    """An upper bound on the bracket nesting of ``text`` (flow-style YAML, JSON), checked before parsing."""
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return deepest


def load_mapping(path: str | Path) -> dict:
    """Read a YAML or JSON file holding a mapping. Errors name the file and what is wrong with it: missing,
    unreadable, not UTF-8 text, malformed, a key given twice, nested deeper than :data:`MAX_DEPTH`.

    A top-level ``base: other.yaml`` (relative to the file) inherits that file's mapping: this file's keys are
    merged over it, section by section (mappings merge recursively; any other value, lists too, replaces).
    Bases may chain; a cycle is a ConfigError.
    """
    return _load_with_base(Path(path), ())


def _merge(base: Mapping, over: Mapping) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def _load_with_base(path: Path, chain: tuple[Path, ...]) -> dict:
    data = _read_mapping(path)
    if "base" not in data:
        return data
    ref = data.pop("base")
    require(isinstance(ref, str) and bool(ref), f"{path}: base", ref, "must be a file name")
    base_path = (path.parent / ref).resolve()
    here = path.resolve()
    if base_path in (*chain, here):
        cycle = " -> ".join(p.name for p in (*chain, here, base_path))
        raise ConfigError(f"config file {str(path)!r}: base cycle {cycle}")
    return _merge(_load_with_base(base_path, (*chain, here)), data)


def _read_mapping(path: Path) -> dict:
    import yaml

    name = f"config file {str(path)!r}"
    if not path.exists():
        raise ConfigError(f"{name}: no such file")
    if not path.is_file():
        raise ConfigError(f"{name}: not a regular file")
    try:
        text = path.read_bytes().decode("utf-8")
    except PermissionError:
        raise ConfigError(f"{name}: permission denied") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
    if _nesting(text) > _BRACKETS_MAX:
        raise ConfigError(f"{name}: nested deeper than {MAX_DEPTH} levels")
    try:
        if kind == "JSON":
            data = json.loads(text, object_pairs_hook=_no_duplicates)
        else:
            data = yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise ConfigError(f"{name}: key {exc.args[0]!r} given twice in one mapping") from None
    except RecursionError:
        raise ConfigError(f"{name}: nested deeper than {MAX_DEPTH} levels") from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{name}: malformed {kind}: {first}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: top level must be a mapping, got {type(data).__name__}")
    if _depth(data) > MAX_DEPTH:
        raise ConfigError(f"{name}: nested deeper than {MAX_DEPTH} levels")
    return data


def apply_overrides(raw: Mapping, overrides: Sequence[str]) -> dict:
    """A copy of ``raw`` with ``a.b.c=value`` overrides applied (values parsed as YAML)."""
    import copy

    import yaml

    out = copy.deepcopy(dict(raw))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key.path=value")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        if not all(parts):
            raise ConfigError(f"--set {item!r}: empty key in {key!r}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        node = out
        for p in parts[:-1]:
            child = node.get(p)
            if child is None:
                child = node[p] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: {p!r} is not a section")
            node = child
        node[parts[-1]] = value
    return out


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _convert(tp: Any, value: Any, field: str) -> Any:
    tp, optional = _strip_optional(tp)
    if value is None:
        if optional or tp is Any:
            return None
        raise ConfigError(f"{field}=None: a value is required")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{field}={value!r}: must be a mapping")
        return from_dict(tp, value, prefix=field)
    origin = typing.get_origin(tp)
    if origin in (tuple, list, Sequence):
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise ConfigError(f"{field}={value!r}: must be a list")
        args = typing.get_args(tp)
        item_tp = args[0] if args else Any
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            item_tp = args[0]
        items = [_convert(item_tp, v, f"{field}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{field}={value!r}: must be a mapping")
        args = typing.get_args(tp)
        vt = args[1] if len(args) == 2 else Any
        return {str(k): _convert(vt, v, f"{field}.{k}") for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        return value  # mixed unions: validated by the dataclass itself
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{field}={value!r}: must be true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        ):
            raise ConfigError(f"{field}={value!r}: must be an integer")
        return int(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{field}={value!r}: must be a number")
        if not math.isfinite(float(value)):
            raise ConfigError(f"{field}={value!r}: must be finite")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{field}={value!r}: must be a string")
        return value
    return value


def from_dict(cls: type, raw: Mapping, *, prefix: str = "") -> Any:
    """Build the frozen dataclass ``cls`` from a mapping, recursively, rejecting unknown and missing keys."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{prefix or cls.__name__}={raw!r}: must be a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    where = f"{prefix}." if prefix else ""
    unknown = [k for k in raw if k not in fields]
    if unknown:
        raise ConfigError(f"unknown key {where}{unknown[0]}: allowed keys are {', '.join(sorted(fields))}")
    required = [
        n
        for n, f in fields.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [n for n in required if n not in raw]
    if missing:
        raise ConfigError(f"missing key {where}{missing[0]}: required (required keys: {', '.join(required)})")
    kwargs = {}
    for name, value in raw.items():
        kwargs[name] = _convert(hints[name], value, f"{prefix}.{name}" if prefix else name)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a missing required field
        raise ConfigError(f"{prefix or cls.__name__}: {exc}") from None


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, mappings, tuples, NumPy arrays and scalars, torch tensors -> plain JSON-able Python.

    NaN and ±inf become None (strict JSON has neither); ``np.asarray(values, dtype=float)`` reads None back as
    NaN. The one converter: configs, History records and the reproduce data all go through it.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, str):  # np.ndarray, np.generic, torch.Tensor
        return to_jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
