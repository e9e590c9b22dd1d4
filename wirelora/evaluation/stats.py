"""Statistics over seeds: the mean and a 95 % Student-t interval of a number (or of a curve, elementwise),
and the paired difference of two methods run on the same seeds.

A seed fixes everything the methods of one comparison share: the pre-event model, the oracle, the data and
the channel draws. So ``a − b`` per seed is a paired difference: the seed-to-seed spread that moves both
methods together cancels, and its interval is far narrower than the intervals of ``a`` and ``b`` alone.

Every result is plain data, the shape a reproduce data file stores::

    {"n": S, "mean": m, "lo": m − h, "hi": m + h, "half_width": h, "per_seed": [v_0, ..., v_{S-1}]}

with h = t_{0.975, S−1} · sd / √S (``sd`` with S − 1 degrees of freedom). With one seed there is no
interval: ``lo``, ``hi`` and ``half_width`` are None. A paired difference adds ``vs`` (the reference's
name) and ``excludes_zero`` (True / False; None with one seed). Values that are None or NaN (a round that
was not evaluated) propagate: that entry's mean and interval are None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["LEVEL", "t_half_width", "describe", "paired", "mean_of", "band_of"]

LEVEL = 0.95  # two-sided confidence level of every interval


def t_half_width(values, *, level: float = LEVEL) -> np.ndarray:
    """Half-width of the ``level`` t-interval of the mean over axis 0. values : [S, ...], S ≥ 2."""
    from scipy import stats

    v = np.asarray(values, dtype=float)
    n = v.shape[0]
    if n < 2:
        raise ValueError(f"values: an interval needs at least 2 seeds, got {n}")
    q = float(stats.t.ppf(0.5 + level / 2, df=n - 1))
    return q * v.std(axis=0, ddof=1) / np.sqrt(n)


def _plain(x: np.ndarray) -> Any:
    """An array (or scalar) as JSON-able data, NaN as None."""
    if x.ndim == 0:
        return None if np.isnan(x) else float(x)
    return [_plain(e) for e in x]


def _array(per_seed: Sequence) -> np.ndarray:
    rows = [np.asarray([np.nan if e is None else e for e in np.ravel(v)], dtype=float).reshape(np.shape(v))
            for v in per_seed]  # fmt: skip
    shapes = {r.shape for r in rows}
    if len(shapes) != 1:
        raise ValueError(f"per_seed: values of different shapes {sorted(shapes)}")
    return np.stack(rows)  # [S, ...]


def describe(per_seed: Sequence) -> dict[str, Any]:
    """Mean and 95 % t-interval over seeds. per_seed : [S] numbers or [S, K] curves (None = missing)."""
    v = _array(per_seed)
    if v.shape[0] == 0:
        raise ValueError("per_seed: no seeds")
    mean = v.mean(axis=0)
    out: dict[str, Any] = {"n": int(v.shape[0]), "mean": _plain(mean)}
    if v.shape[0] >= 2:
        h = t_half_width(v)
        out.update({"lo": _plain(mean - h), "hi": _plain(mean + h), "half_width": _plain(h)})
    else:
        out.update({"lo": None, "hi": None, "half_width": None})
    out["per_seed"] = _plain(v)
    return out


def paired(values: Sequence, reference: Sequence, *, vs: str) -> dict[str, Any]:
    """The paired difference ``values − reference`` seed by seed, described, and whether its interval
    excludes 0. values, reference : [S] or [S, K] from the same seeds, in the same order."""
    a, b = _array(values), _array(reference)
    if a.shape != b.shape:
        raise ValueError(f"paired: {vs}: shapes {a.shape} and {b.shape} differ (not the same seeds?)")
    out = {"vs": vs, **describe(a - b)}
    if out["lo"] is None:
        out["excludes_zero"] = None
    else:
        lo, hi = np.asarray(out["lo"], dtype=float), np.asarray(out["hi"], dtype=float)
        out["excludes_zero"] = _excludes(lo, hi)
    return out


def _excludes(lo: np.ndarray, hi: np.ndarray) -> Any:
    """Elementwise: True where [lo, hi] lies wholly on one side of 0, None where it is missing."""
    if lo.ndim == 0:
        return None if np.isnan(lo) or np.isnan(hi) else bool(lo > 0 or hi < 0)
    return [_excludes(a, b) for a, b in zip(lo, hi)]


def mean_of(entry: Any) -> Any:
    """The mean of a described entry; a bare number or list (a data file from before ``--seeds``) as is."""
    return entry["mean"] if isinstance(entry, dict) else entry


def band_of(entry: Any) -> tuple[Any, Any] | None:
    """(lo, hi) of a described entry; None without an interval (one seed, or a data file from before)."""
    if not isinstance(entry, dict) or entry.get("lo") is None:
        return None
    return entry["lo"], entry["hi"]
