"""The files a target writes, all named after it: ``<name>.json`` (the record: settings and data),
``<name>.csv`` (the data in long form), ``<name>.png`` / ``.pdf`` (the figure) or ``<name>.md`` / ``.csv``
(a table); and reading a record back (``--from-data``)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from wirelora.config import to_jsonable

__all__ = ["long_rows", "write_csv", "markdown", "save_figure", "write_record", "read_record"]


def long_rows(data: Any, path: tuple[str, ...] = ()) -> Iterable[tuple[str, str, str, Any]]:
    """Flatten nested {quantity: {series: [values]}} data into (quantity, series, index, value) rows."""
    if isinstance(data, Mapping):
        for k, v in data.items():
            yield from long_rows(v, (*path, str(k)))
        return
    quantity = path[0] if path else ""
    series = ".".join(path[1:])
    if isinstance(data, list):
        for i, v in enumerate(data):
            if isinstance(v, list | Mapping):
                yield from long_rows(v, (*path, str(i)))
            else:
                yield quantity, series, str(i), v
    else:
        yield quantity, series, "", data


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(["" if v is None else v for v in row] for row in rows)


def markdown(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A Markdown table; None is written as an em dash, floats with three significant digits."""

    def cell(v: Any) -> str:
        if v is None:
            return "—"
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.3e}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def save_figure(fig: Any, out: Path, name: str) -> list[Path]:
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    return paths


def write_record(out: Path, name: str, record: Mapping[str, Any], *, is_table: bool) -> list[Path]:
    """``<name>.json`` (strict JSON: NaN saved as null), and for a figure ``<name>.csv`` of its data."""
    record = to_jsonable(record)
    json_path = out / f"{name}.json"
    json_path.write_text(json.dumps(record, indent=1, allow_nan=False) + "\n")
    paths = [json_path]
    if not is_table:
        csv_path = out / f"{name}.csv"
        write_csv(csv_path, ("quantity", "series", "index", "value"), long_rows(record["data"]))
        paths.append(csv_path)
    return paths


def read_record(path: Path, target: str) -> dict:
    """The saved record ``{"target", "quick", "settings", "data", ...}`` of ``target`` at ``path``."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no saved data for {target!r}; run `wirelora reproduce {target}` first"
        )
    try:
        record = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a wirelora reproduce record (unreadable JSON: {exc})") from None
    if not isinstance(record, dict) or not isinstance(record.get("data"), dict) or not record["data"]:
        raise ValueError(f"{path}: not a wirelora reproduce record (no 'data' mapping)")
    return record
