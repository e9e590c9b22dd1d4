"""History: what a run recorded, round by round, as plain JSON.

Layout of ``history.json`` (one object)::

    {"config": {...resolved run config...},
     "rounds": [{"round": 0, "members": ["d0", ...], "event": null | {"leave": [...], "join": [...]},
                 "retain_loss": float, "join_loss": float | null, "forget_loss": float | null,
                 (the consensus model's; null where the set does not exist)
                 "retain_acc": ..., "join_acc": ..., "forget_acc": ...,
                 "device_losses": {"retain": [per member] | null, "join": ..., "forget": ...},
                 "oracle_retain_loss": float | null, ... (when an oracle exists for the current event),
                 "consensus_distance": float, "consensus_distance_group": {group: float},
                 "bits_sent": int, "bits_sent_group": {group: int},
                 "schedule": {group: {"local_steps", "step_size", "prox", "gamma", "sync_period",
                                      "edges", "sync"}},
                 "train_loss": float, "wall_time_s": float, ...extra numbers from Schedule.record}, ...],
     "meta": {...free-form: oracle info, stored bytes, ...}}

Consensus losses (the device-averaged model) sit under the plain names; null where a set does not exist yet
(no join set before the first join). ``wall_time_s`` is the only field that differs between two runs with
the same seed (see :data:`TIMING_KEYS`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wirelora.config import to_jsonable
from wirelora.files import atomic_write_text

__all__ = ["History", "TIMING_KEYS", "HISTORY_FILE", "METRICS_FILE", "MetricsLog"]

HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.jsonl"  # one line per round, appended as the run goes (`tail -f`)
TIMING_KEYS = ("wall_time_s", "provenance")  # what differs between two runs of one config and seed


def _clean(value):
    """NumPy/torch scalars -> Python; NaN/inf -> None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str):
        return _clean(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class History:
    """A run's resolved config and its per-round records (dicts of JSON values)."""

    config: dict
    rounds: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def append(self, record: dict) -> None:
        self.rounds.append(to_jsonable(record))

    def __len__(self) -> int:
        return len(self.rounds)

    def series(self, key: str) -> np.ndarray:
        """``[num_rounds]`` float array of a per-round number; NaN where it is null or missing."""
        return np.array([np.nan if r.get(key) is None else float(r[key]) for r in self.rounds], dtype=float)

    def to_json(self) -> dict:
        return {"config": to_jsonable(self.config), "rounds": self.rounds, "meta": to_jsonable(self.meta)}

    def without_timing(self) -> dict:
        """The JSON form with the wall-clock fields removed: equal for two runs with the same seed."""
        data = self.to_json()
        data["rounds"] = [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in data["rounds"]]
        data["meta"] = {k: v for k, v in data["meta"].items() if k not in TIMING_KEYS}
        return data

    def save(self, directory: str | Path) -> Path:
        """Write ``directory/history.json`` atomically; return its path."""
        path = Path(directory) / HISTORY_FILE
        atomic_write_text(path, json.dumps(self.to_json(), indent=1, allow_nan=False) + "\n")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> History:
        """Read ``directory/history.json`` (or the file itself if ``directory`` is a file)."""
        path = Path(directory)
        if path.is_dir():
            path = path / HISTORY_FILE
        if not path.is_file():
            raise FileNotFoundError(f"history file {str(path)!r}: no such file")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"history file {str(path)!r}: malformed JSON: {exc.msg}") from None
        if not isinstance(data, dict) or "rounds" not in data or "config" not in data:
            raise ValueError(f"history file {str(path)!r}: expected an object with 'config' and 'rounds'")
        return cls(config=data["config"], rounds=list(data["rounds"]), meta=dict(data.get("meta", {})))


class MetricsLog:
    """``metrics.jsonl`` in a run directory: each round's record as one JSON line, appended (and flushed) as
    soon as the round is done, for ``tail -f`` and other tools. It always equals the rounds of the History so
    far: on resume it is rewritten from the checkpoint's rounds, so a killed run leaves no duplicate line."""

    def __init__(self, directory: str | Path, rounds: list[dict]):
        self.path = Path(directory) / METRICS_FILE
        atomic_write_text(self.path, "".join(self._line(r) for r in rounds))

    @staticmethod
    def _line(record: dict) -> str:
        return json.dumps(_clean(record), allow_nan=False) + "\n"

    def append(self, record: dict) -> None:
        with open(self.path, "a") as fh:
            fh.write(self._line(record))
            fh.flush()
