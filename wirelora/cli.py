"""``wirelora`` / ``python -m wirelora``: allocate, run, resume, export, reproduce.

Each subcommand's argparse definition lives here; its work lives in the module named in ``_HANDLERS``
(imported lazily, so that ``wirelora allocate`` never loads torch). Bad input never gives a traceback:
one line on stderr naming the field and the value, exit status 2.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import sys

from wirelora.errors import DistributedError, DivergenceError, SolverError
from wirelora.experiments.reproduce.targets import TARGETS
from wirelora.progress import configure_logging

# The one explicit dict: subcommand -> "module:function(args) -> int".
_HANDLERS = {
    "allocate": "wirelora.experiments.allocate:cli_allocate",
    "run": "wirelora.experiments.runner:cli_run",
    "resume": "wirelora.experiments.runner:cli_resume",
    "export": "wirelora.experiments.export:cli_export",
    "reproduce": "wirelora.experiments.reproduce:cli_reproduce",
    "list": "wirelora.experiments.listing:cli_list",
}

_TENSORBOARD_HELP = (
    "also write each round's metrics as TensorBoard scalars to DIR (pip install 'wirelora[tensorboard]')"
)
# --backend dist: the same subcommands, run as ranks of a process group (or launched as --nproc N of them)
_DIST_HANDLERS = {
    "run": "wirelora.experiments.distributed_run:cli_run",
    "resume": "wirelora.experiments.distributed_run:cli_resume",
}

# the registry is light to import (its recipes load torch, cvxpy and matplotlib only when they run)
REPRODUCE_TARGETS = (*TARGETS, "all")


def _correction_choices() -> str:
    """What ``--set correction.method=`` / ``policy.arm=`` / ``policy.rule=`` accept, with labels."""
    from wirelora.evaluation.names import ARMS, METHODS, RULES, label

    lines = ["choices (--set KEY=NAME):"]
    for key, names in (("correction.method", METHODS), ("policy.arm", ARMS), ("policy.rule", RULES)):
        lines.append(f"  {key}: " + ", ".join(f"{n} ({label(n)})" if label(n) != n else n for n in names))
    return "\n".join(lines)


def _count(flag: str):
    """argparse type: an integer >= 1 (the error names ``flag`` and the value)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag}={text!r}: must be an integer >= 1") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{flag}={text!r}: must be an integer >= 1")
        return value

    return parse


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage block): ``wirelora run: error: ...``, exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def _verbosity_parser() -> argparse.ArgumentParser:
    """``--quiet`` / ``--verbose``, on every subcommand (so that they go after it, where people type them)."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_mutually_exclusive_group()
    group.add_argument(
        "-q", "--quiet", action="store_true", help="warnings and the result only: no progress bar or messages"
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also log one line per evaluated round",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="wirelora", description=__doc__.splitlines()[0].replace("``", ""))
    p.add_argument("--version", action="version", version=f"wirelora {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    common = _verbosity_parser()
    add = functools.partial(sub.add_parser, parents=[common])

    a = add("allocate", help="solve a bandwidth-allocation scenario (JSON or YAML)")
    a.add_argument(
        "scenario",
        nargs="?",
        default=None,
        help="scenario file, or the name of a bundled example (default: the bundled 'example')",
    )
    a.add_argument(
        "--objective",
        default=None,
        help="minmax | weighted | energy | energy_time (default: the scenario's, else minmax)",
    )
    a.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    a.add_argument(
        "--records", action="store_true", help="with --json: also one record per link (bandwidth, power, ...)"
    )
    a.add_argument("--plot", metavar="PATH", default=None, help="draw bandwidth and latency per link to PATH")

    r = add(
        "run",
        help="run a decentralized LoRA training/correction config",
        epilog=_correction_choices(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("config", help="YAML/JSON path, or the name of a shipped config (e.g. leave-only)")
    r.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dotted override, e.g. --set trainer.rounds=20 (repeatable)",
    )
    r.add_argument(
        "--out", default=None, metavar="DIR", help="output directory (default: runs/<config name>)"
    )
    r.add_argument("--seed", type=int, default=None, help="override the config's seed")
    r.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    r.add_argument("--tensorboard", metavar="DIR", default=None, help=_TENSORBOARD_HELP)
    r.add_argument(
        "--force", action="store_true", help="replace a different run already in --out (default: refuse)"
    )
    r.add_argument(
        "--print-config", action="store_true", help="print the resolved config (after --set) and run nothing"
    )

    s = add("resume", help="continue an interrupted run from its checkpoint")
    s.add_argument("dir", help="the run's output directory")
    s.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    s.add_argument("--tensorboard", metavar="DIR", default=None, help=_TENSORBOARD_HELP)
    for q in (r, s):
        q.add_argument(
            "--backend",
            choices=("inprocess", "dist"),
            default="inprocess",
            help="inprocess (default): every device in this process; dist: torch.distributed ranks "
            "(from torchrun's environment variables, or --nproc N started here)",
        )
        q.add_argument(
            "--nproc",
            type=int,
            default=None,
            metavar="N",
            help="with --backend dist: start N ranks on 127.0.0.1 (the History does not depend on N)",
        )

    e = add("export", help="write a run's consensus as a peft adapter (and its base model)")
    e.add_argument("dir", help="the run's output directory")
    e.add_argument(
        "--out", required=True, metavar="DIR", help="writes DIR/adapter and, for a card-built base, DIR/base"
    )

    q = add("reproduce", help="redraw the paper's figures and table (and wirelora's own)")
    q.add_argument(
        "targets",
        nargs="*",
        default=["all"],
        metavar="TARGET",
        help=f"any of: {' '.join(REPRODUCE_TARGETS)} (default: all)",
    )
    q.add_argument("--quick", action="store_true", help="small settings, same code path (minutes, not hours)")
    q.add_argument(
        "--out", default="figures", metavar="DIR", help="where data and figures go (default: figures/)"
    )
    q.add_argument(
        "--seeds",
        type=_count("--seeds"),
        default=1,
        metavar="N",
        help="seeds per training target, paired across methods: mean and 95%% interval (default: 1)",
    )
    q.add_argument(
        "--jobs",
        type=_count("--jobs"),
        default=1,
        metavar="J",
        help="run the seeds in J processes (same results for any J; default: 1)",
    )
    q.add_argument("--from-data", action="store_true", help="re-plot from saved data without re-running")
    q.add_argument(
        "--style",
        choices=("screen", "paper"),
        default="screen",
        help="screen: titled figures (default); paper: no titles, for a caption to name them",
    )
    q.add_argument("--no-progress", action="store_true", help="hide progress bars")

    ls = add("list", help="list the shipped configs, model cards, reproduce targets or examples")
    ls.add_argument("kind", choices=("configs", "models", "targets", "examples"), help="what to list")
    return p


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wirelora")
    except PackageNotFoundError:  # a source checkout on PYTHONPATH
        return "unknown (not installed)"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    verbosity = -1 if args.quiet else int(args.verbose)
    if args.quiet and hasattr(args, "no_progress"):
        args.no_progress = True
    configure_logging(verbosity, prefix=f"wirelora {args.command}")
    dist = getattr(args, "backend", "inprocess") == "dist"
    if getattr(args, "nproc", None) is not None and not dist:
        parser.exit(2, f"wirelora {args.command}: error: --nproc={args.nproc} needs --backend dist\n")
    module_name, func_name = (_DIST_HANDLERS if dist else _HANDLERS)[args.command].split(":")
    try:
        handler = getattr(importlib.import_module(module_name), func_name)
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print(f"wirelora {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader closed the pipe early (`| head`): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the interpreter's final flush does not fail again
        return 0
    except (
        ValueError,
        FileNotFoundError,
        IsADirectoryError,
    ) as exc:  # bad input, incl. ConfigError/InfeasibleError
        print(f"wirelora {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except (SolverError, DivergenceError) as exc:
        print(f"wirelora {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except DistributedError as exc:  # a peer is gone: leave at once, never wait on the process group
        print(f"wirelora {args.command}: error: {_one_line(exc)}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
