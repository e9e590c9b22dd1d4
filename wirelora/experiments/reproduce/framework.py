"""Running targets: their settings (YAML beside the run configs), compute or ``--from-data``, the files.

from wirelora.experiments.reproduce import reproduce
paths = reproduce(["alloc"], out_dir="runs/quick", quick=True)   # {"alloc": [Path(...), ...]}
paths = reproduce(["fig3"], quick=True, seeds=4, jobs=2)          # 4 paired seeds in 2 processes
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wirelora.config import ConfigError, load_mapping, to_jsonable
from wirelora.experiments.reproduce.outputs import markdown, read_record, save_figure, write_csv, write_record
from wirelora.experiments.reproduce.recipe import Context, Recipe
from wirelora.experiments.reproduce.targets import TARGETS
from wirelora.provenance import provenance

__all__ = ["SETTINGS_DIR", "settings_for", "load_data", "reproduce", "cli_reproduce"]

# experiments/configs/reproduce/<family>.yaml: {target: {full: {...}, quick: {what differs from full}}}
SETTINGS_DIR = Path(__file__).resolve().parents[1] / "configs" / "reproduce"


def _recipe(target: str) -> Recipe:
    if target not in TARGETS:
        raise ValueError(f"target={target!r}: must be one of {', '.join([*TARGETS, 'all'])}")
    return TARGETS[target]


def settings_for(target: str, *, quick: bool = False) -> dict:
    """The settings a target runs with (``quick`` or full), as a plain dict."""
    path = SETTINGS_DIR / f"{_recipe(target).settings}.yaml"
    raw = load_mapping(path)
    entry = raw.get(target)
    if not isinstance(entry, Mapping) or not isinstance(entry.get("full"), Mapping):
        raise ConfigError(f"{path}: {target}.full: missing (every target needs its full settings)")
    extra = sorted(set(entry) - {"full", "quick"})
    if extra:
        raise ConfigError(f"{path}: {target}.{extra[0]}: unknown key; allowed: full, quick")
    full, over = dict(entry["full"]), dict(entry.get("quick") or {})
    unknown = sorted(set(over) - set(full))
    if unknown:
        raise ConfigError(
            f"{path}: {target}.quick.{unknown[0]}: not a full setting; allowed: {', '.join(full)}"
        )
    return {**full, **over} if quick else full


def load_data(target: str, out_dir: str | Path = "figures") -> dict:
    """The saved record of ``target`` (``{"target", "quick", "settings", "data", ...}``) from ``out_dir``."""
    _recipe(target)
    return read_record(Path(out_dir) / f"{target}.json", target)


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
    style: str = "screen",
    seeds: int = 1,
    jobs: int = 1,
) -> dict[str, list[Path]]:
    """Run (or, with ``from_data``, only redraw) each target; return the files written per target.

    style : ``screen`` (titled) or ``paper`` (no titles: the caption names the figure), see
    :func:`wirelora.evaluation.plots.style.apply_style`.

    settings : {target: {key: value}} overrides on top of the quick/full settings (e.g. smaller runs
    in tests); unknown keys are an error. seeds : seeds of every seeded target (its run config's seed + 0 ..
    seeds − 1, paired across methods; recorded in the data file's settings); the others run once.
    jobs : worker processes for the seeds (the data do not depend on it).
    """
    from wirelora.evaluation.plots.style import STYLES, apply_style

    if style not in STYLES:
        raise ValueError(f"--style={style!r}: must be one of {', '.join(STYLES)}")
    for flag, value in (("--seeds", seeds), ("--jobs", jobs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{flag}={value!r}: must be an integer >= 1")
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
    if any(p.exists() and not p.is_dir() for p in (out, *out.parents)):
        raise ValueError(
            f"--out={str(out)!r}: {str(next(p for p in (out, *out.parents) if p.exists()))!r} is a file"
        )
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(progress=progress, quick=quick, work_dir=out / "runs", seeds=seeds, jobs=jobs)
    written: dict[str, list[Path]] = {}
    for name in names:
        recipe = TARGETS[name]
        start = time.perf_counter()
        if from_data:
            record = load_data(name, out)
            ctx.say(f"[{name}] redrawing from {out / (name + '.json')}")
            if recipe.seeded and "seeds" not in (record.get("settings") or {}):
                ctx.say(f"[{name}] a data file from before --seeds: one seed, no interval")
            paths: list[Path] = []
        else:
            cfg = {**settings_for(name, quick=quick), **overrides.get(name, {})}
            n = f", {seeds} seed{'s' if seeds > 1 else ''}" if recipe.seeded else ""
            ctx.say(f"[{name}] {recipe.doc} ({'quick' if quick else 'full'} settings{n})")
            data = to_jsonable(recipe.compute(cfg, ctx))  # what draw sees is what --from-data reads back
            record = {
                "target": name,
                "quick": quick,
                "settings": {**to_jsonable(cfg), **({"seeds": seeds} if recipe.seeded else {})},
                "elapsed_s": round(time.perf_counter() - start, 3),
                "wirelora_version": _version(),
                "provenance": provenance(),
                "data": data,
            }
            paths = write_record(out, name, record, is_table=recipe.is_table)
        try:
            drawn = recipe.draw(record["data"])
        except (KeyError, TypeError, IndexError, ValueError, AttributeError) as exc:
            if not from_data:
                raise
            raise ValueError(
                f"{out / (name + '.json')}: its data is not what {name} draws ({type(exc).__name__}: {exc})"
            ) from None
        if recipe.is_table:
            header, rows = drawn
            md, tab = out / f"{name}.md", out / f"{name}.csv"
            md.write_text(markdown(header, rows))
            write_csv(tab, header, rows)
            paths += [md, tab]
        else:
            paths += save_figure(apply_style(drawn, style), out, name)
        written[name] = paths
        ctx.say(f"[{name}] wrote {', '.join(p.name for p in paths)} ({time.perf_counter() - start:.1f} s)")
    return written


def _version() -> str:
    from wirelora import __version__

    return __version__


def cli_reproduce(args) -> int:
    """Handler of ``wirelora reproduce [TARGET ...] [--quick] [--seeds N] [--jobs J] [--out DIR] [--from-data]
    [--no-progress]``."""
    written = reproduce(
        args.targets,
        out_dir=args.out,
        quick=args.quick,
        from_data=args.from_data,
        progress=not args.no_progress,
        style=args.style,
        seeds=args.seeds,
        jobs=args.jobs,
    )
    for name, paths in written.items():
        print(f"{name}: {' '.join(str(p) for p in paths)}")
    return 0
