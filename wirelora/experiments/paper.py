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
    paths = reproduce(["alloc"], out_dir="runs/quick", quick=True)   # {"alloc": [Path(...), ...]}
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TARGETS", "reproduce", "load_data", "settings_for", "window_curve", "cli_reproduce"]


# ---------------------------------------------------------------------------------- framework
@dataclass
class _Context:
    """What a recipe may use besides its settings: progress display and a cache shared by the recipes of one
    invocation (fig3 and fig5 draw on the same runs; so do fig6, fig7, fig8 and table3)."""

    progress: bool = True
    quick: bool = False
    cache: dict = field(default_factory=dict)
    work_dir: Path = Path("runs")  # where long recipes keep their runs (<out>/runs)

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
    ctx = _Context(progress=progress, quick=quick, work_dir=out / "runs")
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


# --- the paper's targets: one leave-only scenario swept over methods and arms (fig3, fig5-fig8,
# table3) and one long run with joins and leaves (fig4). Runs are kept under <out>/runs/<scenario>-<hash>/
# (git-ignored), keyed by the settings, so that `reproduce fig3` and a later `reproduce fig6` share a sweep.
_PAPER_METHODS = ("proposed", "federaser_d2d", "ewc", "influence_d2d", "kd_unlearn", "naive")
_PAPER_ARMS = ("full", "ls_prox", "local_steps", "retain_prox", "uniform", "topology")


def _scenario_config(cfg: Mapping[str, Any]):
    """A shipped run config (the files ``wirelora run`` reads) with the recipe's overrides."""
    from wirelora.experiments.runner import load_run_config

    return load_run_config(cfg["config"], list(cfg["overrides"]))


def _sweep_runs(config, names: Sequence[str], cfg: Mapping[str, Any], ctx: _Context) -> tuple[dict, dict]:
    """({name: History}, {name: error}) for method names and ``arm:<arm>`` names, run once per settings
    (cached in memory and on disk). A method that fails is reported, not hidden: it is left out of the runs
    and its one-line error is returned (and saved with the figure's data)."""
    from wirelora.config import to_dict
    from wirelora.correction.sweep import sweep
    from wirelora.evaluation.history import History

    # keyed by the resolved run config too: a shipped config that changes must not reuse old runs
    key = {"settings": cfg, "config": to_dict(config), "names": list(names)}
    key = json.dumps(_jsonable(key), sort_keys=True)
    if key in ctx.cache:
        return ctx.cache[key]
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    work = ctx.work_dir / f"{config.name}-{digest}"
    done = work / "done.json"
    if done.is_file():
        ctx.say(f"  reusing the runs in {work}")
        record = json.loads(done.read_text())
        runs = {n: History.load(work / n.replace(":", "-")) for n in record["ok"]}
        failed = record["failed"]
    else:
        work.mkdir(parents=True, exist_ok=True)
        (work / "settings.json").write_text(key + "\n")
        runs, failed = {}, {}
        for name in ctx.bar(names, desc=f"{config.name}: runs"):
            methods, arms = ([], [name.split(":", 1)[1]]) if name.startswith("arm:") else ([name], [])
            try:
                runs.update(sweep(config, out_dir=work, methods=methods, arms=arms, progress=False))
            except (ValueError, RuntimeError) as exc:  # DivergenceError is a RuntimeError
                failed[name] = " ".join(f"{type(exc).__name__}: {exc}".split())
                ctx.say(f"  {name} failed: {failed[name]}")
        done.write_text(json.dumps({"ok": list(runs), "failed": failed}) + "\n")
    ctx.cache[key] = (runs, failed)
    return runs, failed


def _leave_runs(cfg: Mapping[str, Any], ctx: _Context) -> dict:
    config = _scenario_config(cfg)
    if len(config.events) != 1 or config.events[0].join or not config.events[0].leave:
        raise ValueError(f"config {cfg['config']!r}: the leave-only figures need exactly one leave event")
    # proposed runs the config's policy rule; the arms (full included) run the paper's Fisher priority
    names = [*_PAPER_METHODS, "no_correction", *(f"arm:{a}" for a in _PAPER_ARMS)]
    runs, failed = _sweep_runs(config, names, cfg, ctx)
    if failed:
        raise RuntimeError(f"{config.name}: {'; '.join(f'{n}: {e}' for n, e in failed.items())}")
    return runs


def window_curve(history, key: str) -> np.ndarray:
    """[K + 1] values of a per-round number over the correction window: k = 0 right after the projection
    (the post-event record), then after each correction round. NaN where it was not recorded."""
    lo, hi = history.meta["correction"]["window"]
    by_round = {r["round"]: r for r in history.rounds}
    post = by_round[lo].get("post_event", {})
    values = [post.get(key)] + [by_round[r].get(key) for r in range(lo, hi + 1) if r in by_round]
    return np.array([np.nan if v is None else float(v) for v in values])


def _event_loss(history, lambda_j: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(rounds, L): L = retain loss + λ_j · join loss of the consensus model (join part 0 before a join)."""
    rounds = history.series("round")
    retain = history.series("retain_loss")
    join_loss = np.nan_to_num(history.series("join_loss"), nan=0.0)
    keep = ~np.isnan(retain)
    return rounds[keep], (retain + lambda_j * join_loss)[keep]


def _compute_fig3(cfg: Mapping[str, Any], ctx: _Context) -> dict:
    runs = _leave_runs(cfg, ctx)
    names = [*_PAPER_METHODS, "no_correction"]
    return {
        "event_gap": {n: window_curve(runs[n], "event_gap") for n in names},
        "forget_gap": {n: window_curve(runs[n], "forget_gap") for n in names},
    }


def _draw_fig3(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.fig3(data["event_gap"])


def _compute_fig5(cfg: Mapping[str, Any], ctx: _Context) -> dict:
    runs = _leave_runs(cfg, ctx)
    names = [*_PAPER_METHODS, "no_correction"]
    oracle = runs["proposed"].series("oracle_retain_loss")
    return {
        "retain_loss": {n: window_curve(runs[n], "retain_loss") for n in names},
        "oracle_retain_loss": float(np.nanmean(oracle)),
    }


def _draw_fig5(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    fig = plots.fig5(data["retain_loss"])
    ax = fig.axes[0]
    ax.axhline(
        data["oracle_retain_loss"], color="black", linestyle="--", linewidth=1.0, label="oracle (retrained)"
    )
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def _compute_fig6(cfg: Mapping[str, Any], ctx: _Context) -> dict:
    runs = _leave_runs(cfg, ctx)
    arms = [*_PAPER_ARMS, "no_correction"]
    return {
        "event_gap": {
            a: window_curve(runs[a if a == "no_correction" else f"arm:{a}"], "event_gap") for a in arms
        }
    }


def _draw_fig6(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.fig6(data["event_gap"])


def _pareto_front(points: Mapping[str, Sequence[float]]) -> list[str]:
    """Names whose (cost, gap) no other point beats in both, in cost order."""
    order = sorted(points, key=lambda n: (points[n][0], points[n][1]))
    front, best = [], np.inf
    for n in order:
        if points[n][1] < best:
            front.append(n)
            best = points[n][1]
    return front


def _compute_fig7(cfg: Mapping[str, Any], ctx: _Context) -> dict:
    runs = _leave_runs(cfg, ctx)
    points = {}
    for a in _PAPER_ARMS:
        s = runs[f"arm:{a}"].meta["correction"]
        points[a] = [s["norm_total"], s["final_event_gap"]]
    return {"points": points, "front": _pareto_front(points)}


def _draw_fig7(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.fig7(data["points"], front=data["front"])


def _compute_fig8(cfg: Mapping[str, Any], ctx: _Context) -> dict:
    from wirelora.evaluation.metrics import relative_improvement

    runs = _leave_runs(cfg, ctx)
    # RI on the event objective L = retain (+ join) loss: the gap crosses 0, where a ratio means nothing
    uniform = window_curve(runs["arm:uniform"], "retain_loss")
    ri = {
        a: relative_improvement(uniform, window_curve(runs[f"arm:{a}"], "retain_loss"))
        for a in _PAPER_ARMS
        if a != "uniform"
    }
    return {"ri": ri}


def _draw_fig8(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    return plots.fig8(data["ri"])


# Table III of the paper (K = 60): final gap, RI (%), NormComm, NormTotal; None where it gives none.
_PAPER_TABLE3 = {
    "full": (0.39, 6.3, 0.58, 0.83),
    "local_steps": (None, 4.7, None, None),
    "retain_prox": (None, 1.7, None, None),
    "ls_prox": (None, 1.5, None, None),
    "uniform": (None, 0.0, 1.0, 1.0),
    "topology": (None, -3.1, 1.17, None),
    "no_correction": (None, -20.2, None, None),
}


def _compute_table3(cfg: Mapping[str, Any], ctx: _Context) -> dict:
    from wirelora.correction.sweep import table

    runs = _leave_runs(cfg, ctx)
    names = {a: ("no_correction" if a == "no_correction" else f"arm:{a}") for a in _PAPER_TABLE3}
    rows = {r["name"]: r for r in table({n: runs[n] for n in names.values()})}
    keys = ("final_gap", "final_gap_avg10", "ri", "norm_comm", "norm_total", "stored_bytes", "forget_gap",
            "contribution_residual")  # fmt: skip
    return {
        "rows": {arm: {k: rows[name].get(k) for k in keys} for arm, name in names.items()},
        "paper": {a: list(v) for a, v in _PAPER_TABLE3.items()},
    }


def _draw_table3(data: Mapping[str, Any]):
    from wirelora.evaluation.plots import label

    header = [
        "arm",
        "final gap",
        "RI (%)",
        "NormComm",
        "NormTotal",
        "forget gap",
        "paper: gap",
        "paper: RI (%)",
        "paper: NormComm",
        "paper: NormTotal",
    ]
    rows = []
    for arm, r in data["rows"].items():
        rows.append(
            [
                label(arm),
                r["final_gap"],
                r["ri"],
                r["norm_comm"],
                r["norm_total"],
                r["forget_gap"],
                *data["paper"][arm],
            ]
        )
    return header, rows


def _compute_fig4(cfg: Mapping[str, Any], ctx: _Context) -> dict:
    from wirelora.evaluation.metrics import relative_improvement

    config = _scenario_config(cfg)
    events = [{"round": e.round, "leave": list(e.leave), "join": list(e.join)} for e in config.events]
    methods = list(cfg["methods"])
    unknown = [m for m in methods if m not in _PAPER_METHODS]
    if unknown:
        raise ValueError(f"settings.fig4.methods: {unknown[0]!r} is not one of {', '.join(_PAPER_METHODS)}")
    runs, failed = _sweep_runs(config, [*methods, "arm:uniform"], cfg, ctx)
    if "arm:uniform" not in runs:
        raise RuntimeError(f"fig4: the uniform arm failed: {failed['arm:uniform']}")
    steps, uniform = _event_loss(runs["arm:uniform"])
    ri = {}
    for n in (m for m in methods if m in runs):
        s, loss = _event_loss(runs[n])
        if not np.array_equal(s, steps):
            raise ValueError(f"fig4: {n} was evaluated at other rounds than the uniform arm")
        ri[n] = relative_improvement(uniform, loss)
    stored = {n: runs[n].meta["correction"].get("stored_bytes_per_device", 0.0) for n in ri}
    return {
        "steps": steps,
        "ri": ri,
        "events": _event_marks(events),
        "stored_bytes_per_device": stored,
        "final_ri": {n: float(v[-1]) for n, v in ri.items()},
        "failed": failed,
    }


def _draw_fig4(data: Mapping[str, Any]):
    from wirelora.evaluation import plots

    fig = plots.fig4(data["ri"], steps=data["steps"], events=data["events"])
    if data.get("failed"):  # say which methods are missing and why, on the figure itself
        text = "not shown (run failed): " + ", ".join(plots.label(n) for n in data["failed"])
        fig.axes[0].text(0.01, 0.01, text, transform=fig.axes[0].transAxes, fontsize=7, color="tab:red")
    return fig


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
    from wirelora.allocation.closed_form import minmax_latency

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
    from wirelora.allocation.closed_form import minmax_latency, weighted_latency
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
    # the slotted bases are exactly orthogonal: what is left is the rounding of float32 (bases) arithmetic
    for ax in fig.axes:
        ax.text(
            0.98,
            0.03,
            "slotted: float rounding only",
            transform=ax.transAxes,
            ha="right",
            fontsize=7,
            color="tab:red",
        )
    return fig


# --- regimes: which action the dominant-residual policy picks, by regime ----------------------------
def _compute_regimes(cfg: Mapping[str, Any], ctx: _Context) -> dict:
    """The dominant-residual rule's first action on the synthetic quadratic (μ, ζ, ρ set by hand) over a grid
    of spectral gap 1 − ρ × heterogeneity ζ²."""
    from wirelora.correction.residual_rule import regime_grid

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
    from wirelora.learning.config import RunConfig

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
    """The same joins run twice: the joiner trains its own new block (the orthogonal extension, block
    ownership) vs every device trains every block (shared: the joiner's updates land on every block)."""
    from wirelora.learning.loop import run

    out: dict[str, Any] = {"join_loss": {}, "retain_loss": {}}
    for arm, extra in ctx.bar(list(cfg["arms"].items()), desc="join: arms"):
        config = _scenario_config({"config": cfg["config"], "overrides": [*cfg["overrides"], *extra]})
        history = run(config, progress=False)
        rounds, join_loss = _evaluated(history, "join_loss")
        _, retain_loss = _evaluated(history, "retain_loss")
        out["rounds"] = rounds
        out["join_loss"][arm] = join_loss
        out["retain_loss"][arm] = retain_loss
    events = [{"round": e.round, "leave": list(e.leave), "join": list(e.join)} for e in config.events]
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

# μ, the post-event gap and disagreement fixed so that each of the three residuals dominates somewhere on the
# grid (poor mixing -> R_con, heterogeneity -> R_het, else R_loc); ζ² and 1 − ρ span the grid
_REGIMES_FULL = {
    "spectral_gaps": [0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0],
    "heterogeneity": [0.0, 0.01, 0.03, 0.1, 0.3, 1.0],
    "mu": 0.1,
    "init_gap": 0.3,
    "disagreement": 20.0,
    "rounds": 20,
    "step_size": 0.5,
    "num_devices": 6,
    "seed": 0,
}
_JOIN_ARMS = {"orthogonal": ["trainer.ownership=block"], "shared": ["trainer.ownership=shared"]}
_JOIN_FULL = {
    "config": "leave-only",
    "overrides": ["trainer.rounds=200", "task.num_devices=8", "oracle.enabled=false",
                  "events=[{round: 60, join: [d6]}, {round: 120, join: [d7]}]"],
    "arms": _JOIN_ARMS,
}  # fmt: skip
_JOIN_QUICK = {
    "config": "leave-only",
    "overrides": ["trainer.rounds=40", "task.num_devices=7", "oracle.enabled=false",
                  "events=[{round: 20, join: [d6]}]"],
    "arms": _JOIN_ARMS,
}  # fmt: skip

# Shipped configs (wirelora/experiments/configs/) with overrides: quick shortens every phase, same code path.
_LEAVE_FULL = {"config": "leave-only", "overrides": []}
_LEAVE_QUICK = {
    "config": "leave-only",
    "overrides": ["trainer.rounds=32", "events=[{round: 20, leave: [d0]}]", "correction.rounds=12",
                  "oracle.rounds=20"],
}  # fmt: skip
# The paper's 1000-round run is tens of minutes per method on 2 cores; the full setting keeps its four events
# and their order at 0.4 x the length.
_LONG_FULL = {
    "config": "long-run",
    "overrides": ["trainer.rounds=400", "correction.rounds=40",
                  "events=[{round: 80, leave: [d0]}, {round: 120, join: [d6]}, {round: 200, leave: [d1]},"
                  " {round: 280, join: [d7]}]"],
    "methods": list(_PAPER_METHODS),
}  # fmt: skip
_LONG_QUICK = {
    "config": "long-run",
    "overrides": ["trainer.rounds=60", "correction.rounds=6", "oracle.rounds=20",
                  "events=[{round: 12, leave: [d0]}, {round: 24, join: [d6]}, {round: 36, leave: [d1]},"
                  " {round: 48, join: [d7]}]"],
    "methods": list(_PAPER_METHODS),
}  # fmt: skip


def _leave_recipe(compute, draw, doc: str, *, is_table: bool = False) -> _Recipe:
    return _Recipe(compute, draw, full=_LEAVE_FULL, quick=_LEAVE_QUICK, doc=doc, is_table=is_table)


# target -> recipe, in the order `reproduce all` runs them
TARGETS: dict[str, _Recipe] = {
    "fig3": _leave_recipe(_compute_fig3, _draw_fig3, "Fig. 3: event gap vs correction round after a leave"),
    "fig4": _Recipe(
        _compute_fig4,
        _draw_fig4,
        full=_LONG_FULL,
        quick=_LONG_QUICK,
        doc="Fig. 4: RI vs uniform over a long run with joins and leaves",
    ),
    "fig5": _leave_recipe(_compute_fig5, _draw_fig5, "Fig. 5: retain loss vs correction round"),
    "fig6": _leave_recipe(_compute_fig6, _draw_fig6, "Fig. 6: event gap of the ablation arms"),
    "fig7": _leave_recipe(_compute_fig7, _draw_fig7, "Fig. 7: final gap vs normalised cost per arm"),
    "fig8": _leave_recipe(_compute_fig8, _draw_fig8, "Fig. 8: RI of each arm vs the uniform arm"),
    "table3": _leave_recipe(
        _compute_table3, _draw_table3, "Table III: gap, RI and costs per arm", is_table=True
    ),
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
    "regimes": _Recipe(
        _compute_regimes,
        _draw_regimes,
        doc="dominant residual and chosen action over spectral gap x heterogeneity",
        full=_REGIMES_FULL,
        quick={**_REGIMES_FULL, "spectral_gaps": [0.01, 0.1, 1.0], "heterogeneity": [0.0, 0.01, 1.0]},
    ),
    "join": _Recipe(
        _compute_join,
        _draw_join,
        doc="join-data and retain loss around joins, orthogonal vs shared block",
        full=_JOIN_FULL,
        quick=_JOIN_QUICK,
    ),
}
