"""``wirelora reproduce``: one recipe per figure or table: settings → run → data → figure.

Every recipe is a pair of functions: ``_compute_<name>(settings, ctx) -> data`` runs the experiment
and returns plain JSON-able data; ``_draw_<name>(data)`` turns that data into a figure through
:mod:`wirelora.evaluation.plots` (or into a table). Because drawing needs only the saved data,
``--from-data`` redraws a figure without re-running. Each recipe has two settings: ``full`` (the
default; the figures committed in ``figures/``) and ``quick`` (the same code path, small enough that
every target together finishes in minutes on two CPU cores).

Files written per target, all named after the recipe, in the output directory::

    <name>.json   {"target", "quick", "settings", "elapsed_s", "wirelora_version", "data"}
    <name>.csv    the data in long form: quantity, series, index, value (tables: one row per arm)
    <name>.png / <name>.pdf   the figure          (table3: table3.md instead)

    from wirelora.experiments.paper import reproduce
    paths = reproduce(["alloc"], out_dir="figures", quick=True)   # {"alloc": [Path(...), ...]}
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TARGETS", "reproduce", "load_data", "settings_for", "cli_reproduce"]


# ---------------------------------------------------------------------------------- framework
@dataclass
class _Context:
    """What a recipe may use besides its settings: progress display and a cache shared by the recipes of one
    invocation (fig3 and fig5 draw on the same runs; so do fig6, fig7, fig8 and table3)."""

    progress: bool = True
    quick: bool = False
    cache: dict = field(default_factory=dict)

    def bar(self, iterable: Iterable, *, desc: str, total: int | None = None) -> Iterable:
        from tqdm import tqdm  # the text bar: tqdm.auto wants ipywidgets inside notebooks

        return tqdm(
            iterable,
            desc=desc,
            total=total,
            disable=not self.progress,
            leave=False,
            file=sys.stderr,
            dynamic_ncols=True,
        )

    def say(self, text: str) -> None:
        if self.progress:
            print(text, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class _Recipe:
    compute: Callable[[Mapping[str, Any], _Context], dict]
    draw: Callable[[Mapping[str, Any]], Any]  # -> matplotlib Figure, or (header, rows) for a table
    full: Mapping[str, Any]
    quick: Mapping[str, Any]
    doc: str
    is_table: bool = False


def settings_for(target: str, *, quick: bool = False) -> dict:
    """The settings a target runs with (``quick`` or full), as a plain dict."""
    return dict(_recipe(target).quick if quick else _recipe(target).full)


def _recipe(target: str) -> _Recipe:
    if target not in TARGETS:
        raise ValueError(f"target={target!r}: must be one of {', '.join([*TARGETS, 'all'])}")
    return TARGETS[target]


def _jsonable(obj: Any) -> Any:
    """NumPy → Python; NaN/inf → null (strict JSON), read back as NaN by ``np.asarray(..., dtype=float)``."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _long_rows(data: Any, path: tuple[str, ...] = ()) -> Iterable[tuple[str, str, str, Any]]:
    """Flatten nested {quantity: {series: [values]}} data into (quantity, series, index, value) rows."""
    if isinstance(data, Mapping):
        for k, v in data.items():
            yield from _long_rows(v, (*path, str(k)))
        return
    quantity = path[0] if path else ""
    series = ".".join(path[1:])
    if isinstance(data, list):
        for i, v in enumerate(data):
            if isinstance(v, list | Mapping):
                yield from _long_rows(v, (*path, str(i)))
            else:
                yield quantity, series, str(i), v
    else:
        yield quantity, series, "", data


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(["" if v is None else v for v in row] for row in rows)


def _markdown(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "—"
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.3e}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def load_data(target: str, out_dir: str | Path = "figures") -> dict:
    """The saved record of ``target`` (``{"target", "quick", "settings", "data", ...}``) from ``out_dir``."""
    _recipe(target)
    path = Path(out_dir) / f"{target}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no saved data for {target!r}; run `wirelora reproduce {target}` first"
        )
    record = json.loads(path.read_text())
    if not isinstance(record, dict) or "data" not in record:
        raise ValueError(f"{path}: not a wirelora reproduce record (no 'data' key)")
    return record


def _save_figure(fig: Any, out: Path, name: str) -> list[Path]:
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    return paths


def _expand(targets: Sequence[str]) -> list[str]:
    names: list[str] = []
    for t in targets or ["all"]:
        for name in TARGETS if t == "all" else [t]:
            _recipe(name)
            if name not in names:
                names.append(name)
    return names


def reproduce(
    targets: Sequence[str] = ("all",),
    *,
    out_dir: str | Path = "figures",
    quick: bool = False,
    from_data: bool = False,
    progress: bool = True,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, list[Path]]:
    """Run (or, with ``from_data``, only redraw) each target; return the files written per target.

    settings : {target: {key: value}} overrides on top of the quick/full settings (e.g. smaller runs
    in tests); unknown keys are an error.
    """
    names = _expand(targets)
    overrides = dict(settings or {})
    for t, over in overrides.items():
        base = settings_for(t, quick=quick)
        unknown = sorted(set(over) - set(base))
        if unknown:
            raise ValueError(
                f"settings.{t}.{unknown[0]}: unknown setting; allowed: {', '.join(sorted(base))}"
            )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ctx = _Context(progress=progress, quick=quick)
    written: dict[str, list[Path]] = {}
    for name in names:
        recipe = TARGETS[name]
        start = time.perf_counter()
        if from_data:
            record = load_data(name, out)
            ctx.say(f"[{name}] redrawing from {out / (name + '.json')}")
            paths: list[Path] = []
        else:
            cfg = {**settings_for(name, quick=quick), **overrides.get(name, {})}
            ctx.say(f"[{name}] {recipe.doc} ({'quick' if quick else 'full'} settings)")
            data = _jsonable(recipe.compute(cfg, ctx))
            record = {
                "target": name,
                "quick": quick,
                "settings": _jsonable(cfg),
                "elapsed_s": round(time.perf_counter() - start, 3),
                "wirelora_version": _version(),
                "data": data,
            }
            json_path = out / f"{name}.json"
            json_path.write_text(json.dumps(record, indent=1, allow_nan=False) + "\n")
            paths = [json_path]
            if not recipe.is_table:
                csv_path = out / f"{name}.csv"
                _write_csv(csv_path, ("quantity", "series", "index", "value"), _long_rows(data))
                paths.append(csv_path)
        drawn = recipe.draw(record["data"])
        if recipe.is_table:
            header, rows = drawn
            md, tab = out / f"{name}.md", out / f"{name}.csv"
            md.write_text(_markdown(header, rows))
            _write_csv(tab, header, rows)
            paths += [md, tab]
        else:
            paths += _save_figure(drawn, out, name)
        written[name] = paths
        ctx.say(f"[{name}] wrote {', '.join(p.name for p in paths)} ({time.perf_counter() - start:.1f} s)")
    return written


def _version() -> str:
    from wirelora import __version__

    return __version__


def cli_reproduce(args) -> int:
    """Handler of ``wirelora reproduce [TARGET ...] [--quick] [--out DIR] [--from-data] [--no-progress]``."""
    written = reproduce(
        args.targets,
        out_dir=args.out,
        quick=args.quick,
        from_data=args.from_data,
        progress=not args.no_progress,
    )
    for name, paths in written.items():
        print(f"{name}: {' '.join(str(p) for p in paths)}")
    return 0


# ------------------------------------------------------------------------------------ recipes
# One section per target; the registry at the end (TARGETS) is the one explicit dict of targets.


# --- alloc and pareto: the convex allocator on one generated D2D scenario -----------------------------------
_SCENARIO = {
    "seed": 0,
    "num_devices": 6,
    "radius_m": 250.0,
    "density": 0.4,
    # payload of a layer group per link and round: bits/scalar x adapted modules x width x devices x rank
    "ranks": [4, 8, 16],
    "group_names": ["early", "mid", "late"],
    "bits_per_scalar": 32,
    "modules_per_group": 4,
    "width": 128,
}


def _scenario(cfg: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """One drawn D2D scenario: (payload_bits [G, L], link_snr_hz [L]) over the edges of a random graph."""
    from wirelora.network.topology import edge_list, random_connected_graph
    from wirelora.wireless.channel import ChannelConfig, channel_snr_hz

    rng = np.random.default_rng(cfg["seed"])
    m = cfg["num_devices"]
    _, snr = channel_snr_hz(m, ChannelConfig(radius_m=cfg["radius_m"]), rng=rng)  # [M, M]
    edges = edge_list(random_connected_graph(m, cfg["density"], rng=rng))  # [L, 2]
    ranks = np.asarray(cfg["ranks"], dtype=float)  # [G]
    per_group = cfg["bits_per_scalar"] * cfg["modules_per_group"] * cfg["width"] * m * ranks  # [G]
    payload = np.repeat(per_group[:, None], len(edges), axis=1)  # [G, L]
    return payload, snr[edges[:, 0], edges[:, 1]]


def _split_latency_s(
    payload_bits: np.ndarray, link_snr_hz: np.ndarray, bandwidth_hz: np.ndarray
) -> np.ndarray:
    """Per-(group, link) latency of a given split. payload_bits, bandwidth_hz : [G, L]; link_snr_hz : [L]."""
    from wirelora.wireless.rates import latency_s, shannon_rate_bps

    return latency_s(payload_bits, shannon_rate_bps(bandwidth_hz, link_snr_hz))


def _compute_alloc(cfg: Mapping[str, Any], ctx: _Context) -> dict:
    from wirelora.allocation import allocate
    from wirelora.allocation.reference import minmax_latency

    payload, snr = _scenario(cfg)
    totals = np.geomspace(cfg["min_bandwidth_hz"], cfg["max_bandwidth_hz"], cfg["num_bandwidths"])
    lat: dict[str, list[float]] = {"convex": [], "equal": [], "proportional": [], "optimum": []}
    for total in ctx.bar(totals, desc="alloc: bandwidth sweep"):
        lat["convex"].append(allocate(payload, snr, total, method="cvxpy").round_latency_s)
        lat["optimum"].append(minmax_latency(payload, snr, total)[0])
        equal = np.full(payload.shape, total / payload.size)
        lat["equal"].append(float(np.max(_split_latency_s(payload, snr, equal))))
        prop = total * payload / payload.sum()
        lat["proportional"].append(float(np.max(_split_latency_s(payload, snr, prop))))
    # right panel: one group's priority p varied, the other groups share 1 - p evenly (weighted objective)
    groups = list(cfg["group_names"])
    varied = groups.index(cfg["varied_group"])
    priorities = np.linspace(0.05, 0.9, cfg["num_priorities"])
    share: dict[str, list[float]] = {g: [] for g in groups}
    for p in ctx.bar(priorities, desc="alloc: priority sweep"):
        w = np.full(len(groups), (1.0 - p) / (len(groups) - 1))
        w[varied] = p
        a = allocate(
            payload, snr, cfg["priority_bandwidth_hz"], objective="weighted", weights=w, method="cvxpy"
        )
        for g, b in zip(groups, np.asarray(a.bandwidth_hz).sum(axis=1) / cfg["priority_bandwidth_hz"]):
            share[g].append(float(b))
    return {
        "total_bandwidth_hz": totals,
        "latency_s": lat,
        "priority": priorities,
        "varied_group": cfg["varied_group"],
        "bandwidth_share": share,
        "num_links": int(payload.shape[1]),
    }


def _draw_alloc(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    fig = plots.alloc(
        data["total_bandwidth_hz"],
        data["latency_s"],
        priority=data["priority"],
        bandwidth_share_by_group=data["bandwidth_share"],
    )
    fig.axes[1].set_xlabel(f"priority weight of the {data['varied_group']} group (others share the rest)")
    return fig


def _compute_pareto(cfg: Mapping[str, Any], ctx: _Context) -> dict:
    from wirelora.allocation import allocate
    from wirelora.allocation.reference import minmax_latency, weighted_latency
    from wirelora.units import dbm_to_w

    payload, snr = _scenario(cfg)
    total = cfg["total_bandwidth_hz"]
    power_w = float(dbm_to_w(cfg["tx_power_dbm"]))
    t_star, b_minmax = minmax_latency(payload, snr, total)
    # the unconstrained energy minimiser (equal powers: min Σ latency); past its slowest link: flat front
    _, b_free = weighted_latency(payload, snr, total, np.ones(len(cfg["ranks"])))
    t_free = float(np.max(_split_latency_s(payload, snr, b_free)))
    caps = np.geomspace(t_star * (1 + 1e-3), t_free, cfg["num_caps"])
    front_lat, front_energy = [], []
    for cap in ctx.bar(caps, desc="pareto: latency caps"):
        a = allocate(
            payload,
            snr,
            total,
            objective="energy",
            latency_cap_s=float(cap),
            tx_power_w=power_w,
            method="cvxpy",
        )
        front_lat.append(a.round_latency_s)
        front_energy.append(float(np.sum(a.energy_j)))

    def point(b: np.ndarray) -> list[float]:
        t = _split_latency_s(payload, snr, b)
        return [float(np.max(t)), float(power_w * np.sum(t))]

    return {
        "latency_cap_s": caps,
        "latency_s": front_lat,
        "energy_j": front_energy,
        "points": {
            "minmax": point(b_minmax),
            "equal": point(np.full(payload.shape, total / payload.size)),
            "proportional": point(total * payload / payload.sum()),
        },
    }


def _draw_pareto(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.pareto(data["latency_s"], data["energy_j"], points=data["points"])


# --- leakage: what a leave leaves behind, independent vs slotted bases ---------------------------------
def _compute_leakage(cfg: Mapping[str, Any], ctx: _Context) -> dict:
    """On one d×d linear layer with M devices whose blocks hold random values: the mean pairwise basis
    overlap ‖A_iᵀA_j‖_F² and, after device 0 leaves, the contribution residual ‖ΔW'A_u‖_F / ‖ΔW'‖_F,
    averaged over trials."""
    import torch
    from torch import nn

    from wirelora.lora import OrthogonalLoRA, contribution_residual, overlap

    d, m = cfg["width"], cfg["num_devices"]
    ranks = [r for r in cfg["ranks"] if r * m <= d]  # slotted bases need M·r <= d columns
    devices = [f"d{i}" for i in range(m)]
    overlap_by: dict[str, list[float]] = {"independent": [], "slotted": []}
    residual_by: dict[str, list[float]] = {"independent": [], "slotted": []}
    jobs = [(r, basis) for r in ranks for basis in ("independent", "slotted")]
    for r, basis in ctx.bar(jobs, desc="leakage: rank x basis"):
        overlaps, residuals = [], []
        for trial in range(cfg["trials"]):
            model = nn.Sequential()
            model.add_module("proj", nn.Linear(d, d, bias=False))
            ol = OrthogonalLoRA(model, ["proj"], rank=r, max_devices=m, basis=basis, seed=trial)
            gen = torch.Generator().manual_seed(trial)
            for dev in devices:
                ol.add_device(dev)
                ol.block(dev, "proj").copy_(torch.randn(d, r, generator=gen))
            bases = [ol.basis(dev, "proj").double().numpy() for dev in devices]
            overlaps += [overlap(bases[i], bases[j]) for i in range(m) for j in range(i + 1, m)]
            cols = ol.slot_columns(devices[0], "proj")
            ol.remove_device(devices[0])
            b_w = ol.parameters()[0].detach()
            residuals.append(float(contribution_residual(b_w, ol.basis_matrix("proj"), cols)))
        overlap_by[basis].append(float(np.mean(overlaps)))
        residual_by[basis].append(float(np.mean(residuals)))
    r_arr = np.asarray(ranks, dtype=float)
    return {
        "width": d,
        "rank": ranks,
        "rank_over_dim": r_arr / d,
        "theory_overlap": r_arr**2 / d,
        "overlap": overlap_by,
        "residual": residual_by,
    }


def _draw_leakage(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    fig = plots.leakage(
        data["rank_over_dim"], data["overlap"], data["residual"], theory=data["theory_overlap"]
    )
    fig.suptitle(f"one {data['width']}×{data['width']} layer, device 0 leaves", fontsize=9)
    return fig


# --- regimes: which action the dominant-residual policy picks, by regime ----------------------------
def _compute_regimes(cfg: Mapping[str, Any], ctx: _Context) -> dict:
    """The dominant-residual rule's first action on the synthetic quadratic (μ, ζ, ρ set by hand) over a grid
    of spectral gap 1 − ρ × heterogeneity ζ²."""
    from wirelora.correction.policy import regime_grid

    gaps = np.asarray(cfg["spectral_gaps"], dtype=float)
    zeta2 = np.asarray(cfg["heterogeneity"], dtype=float)
    ctx.say(f"  regimes: {len(zeta2)} x {len(gaps)} grid")
    out = regime_grid(
        mu=cfg["mu"],
        zeta=np.sqrt(zeta2),
        rho=1.0 - gaps,
        init_gap=cfg["init_gap"],
        disagreement=cfg["disagreement"],
        rounds=cfg["rounds"],
        step_size=cfg["step_size"],
        num_devices=cfg["num_devices"],
        seed=cfg["seed"],
    )
    return {
        "spectral_gap": gaps,
        "heterogeneity": zeta2,
        "action": np.asarray(out["action"]).tolist(),  # [heterogeneity, spectral_gap]
        "dominant": np.asarray(out["dominant"]).tolist(),
        "residuals": np.asarray(out["residuals"]),  # [heterogeneity, spectral_gap, (loc, con, het)]
    }


def _draw_regimes(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    dominant = [[f"R_{d}" for d in row] for row in data["dominant"]]
    return plots.regimes(data["spectral_gap"], data["heterogeneity"], data["action"], dominant=dominant)


# --- join: learning a joiner with and without its own orthogonal block ----------------------------------
def _run_config(raw: Mapping[str, Any]):
    from wirelora.config import from_dict
    from wirelora.learning.trainer import RunConfig

    return from_dict(RunConfig, raw)


def _evaluated(history, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(rounds, values) of a per-round number at the rounds where it was evaluated (not null)."""
    rounds = history.series("round")
    values = history.series(key)
    keep = ~np.isnan(history.series("retain_loss"))  # evaluated rounds; join_loss is NaN before a join
    return rounds[keep], values[keep]


def _event_marks(events: Sequence[Mapping[str, Any]]) -> list[list]:
    marks = []
    for e in events:
        what = [f"leave {', '.join(e['leave'])}"] if e.get("leave") else []
        what += [f"join {', '.join(e['join'])}"] if e.get("join") else []
        marks.append([int(e["round"]), "; ".join(what)])
    return marks


def _compute_join(cfg: Mapping[str, Any], ctx: _Context) -> dict:
    """Two runs with the same join events: the joiner trains its own new block (orthogonal extension, block
    ownership) vs every device trains every block (shared: the joiner's updates land on everyone's blocks)."""
    from wirelora.learning.trainer import run

    events = [{"round": r, "join": [d]} for r, d in zip(cfg["join_rounds"], cfg["joiners"])]
    base = {
        "name": "join",
        "seed": cfg["seed"],
        "model": {"name": cfg["model"]},
        "task": {
            "kind": cfg["task"],
            "num_devices": cfg["initial_devices"] + len(cfg["joiners"]),
            "initial_devices": cfg["initial_devices"],
        },
        "trainer": {
            "rounds": cfg["rounds"],
            "eval_every": cfg["eval_every"],
            "join_warm_steps": cfg["warm_steps"],
        },
        "events": events,
    }
    out: dict[str, Any] = {"join_loss": {}, "retain_loss": {}}
    for arm, ownership in ctx.bar([("orthogonal", "block"), ("shared", "shared")], desc="join: arms"):
        raw = {**base, "trainer": {**base["trainer"], "ownership": ownership}}
        history = run(_run_config(raw), progress=False)
        rounds, join_loss = _evaluated(history, "join_loss")
        _, retain_loss = _evaluated(history, "retain_loss")
        out["rounds"] = rounds
        out["join_loss"][arm] = join_loss
        out["retain_loss"][arm] = retain_loss
    out["events"] = _event_marks(events)
    return out


def _draw_join(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.join(data["rounds"], data["join_loss"], data["retain_loss"], events=data["events"])


# ------------------------------------------------------------------------------------------------ registry
_ALLOC_FULL = {
    **_SCENARIO,
    "min_bandwidth_hz": 1e5,
    "max_bandwidth_hz": 1e8,
    "num_bandwidths": 16,
    "varied_group": "late",
    "num_priorities": 12,
    "priority_bandwidth_hz": 1e6,
}
_PARETO_FULL = {**_SCENARIO, "total_bandwidth_hz": 1e6, "tx_power_dbm": 20.0, "num_caps": 16}

_REGIMES_FULL = {
    "spectral_gaps": [0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.7],
    "heterogeneity": [0.0, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0],
    "mu": 0.1,
    "init_gap": 1.0,
    "disagreement": 1.0,
    "rounds": 20,
    "step_size": 0.5,
    "num_devices": 6,
    "seed": 0,
}
_JOIN_FULL = {
    "model": "tiny-lm",
    "task": "facts",
    "seed": 0,
    "initial_devices": 6,
    "joiners": ["d6", "d7"],
    "join_rounds": [100, 200],
    "rounds": 300,
    "eval_every": 5,
    "warm_steps": 5,
}

# target -> recipe, in the order `reproduce all` runs them
TARGETS: dict[str, _Recipe] = {
    "alloc": _Recipe(
        _compute_alloc,
        _draw_alloc,
        doc="round latency vs total bandwidth; bandwidth per group vs priority",
        full=_ALLOC_FULL,
        quick={**_ALLOC_FULL, "num_bandwidths": 6, "num_priorities": 5},
    ),
    "pareto": _Recipe(
        _compute_pareto,
        _draw_pareto,
        doc="energy-latency front of the energy objective",
        full=_PARETO_FULL,
        quick={**_PARETO_FULL, "num_caps": 6},
    ),
    "leakage": _Recipe(
        _compute_leakage,
        _draw_leakage,
        doc="basis overlap and post-leave residual vs r/d",
        full={"width": 256, "num_devices": 6, "ranks": [1, 2, 4, 8, 16, 32], "trials": 20},
        quick={"width": 64, "num_devices": 6, "ranks": [1, 2, 4, 8], "trials": 3},
    ),
    "join": _Recipe(
        _compute_join,
        _draw_join,
        doc="join-data and retain loss around joins, orthogonal vs shared block",
        full=_JOIN_FULL,
        quick={**_JOIN_FULL, "joiners": ["d6"], "join_rounds": [30], "rounds": 60, "eval_every": 5},
    ),
    "regimes": _Recipe(
        _compute_regimes,
        _draw_regimes,
        doc="dominant residual and chosen action over spectral gap x heterogeneity",
        full=_REGIMES_FULL,
        quick={**_REGIMES_FULL, "spectral_gaps": [0.02, 0.1, 0.5], "heterogeneity": [0.0, 1.0, 10.0]},
    ),
}
