"""Run the shipped configs (shortened) and compare their Histories with a reference set, key by key.

Used to show that a refactoring leaves every History bit-identical:

    python benchmarks/history_equality.py run OUT_DIR          # run every case into OUT_DIR/<case>/
    python benchmarks/history_equality.py compare REF_DIR NEW_DIR [--json PATH]

``run`` uses whatever ``wirelora`` the interpreter imports (set PYTHONPATH to compare two checkouts).
``compare`` reports, per case, every leaf of ``history.json`` (rounds and meta; wall-clock fields excepted)
that differs, and exits 1 when any differs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

SHORT_LEAVE = [
    "--set",
    "trainer.rounds=14",
    "--set",
    "events=[{round: 6, leave: [d0]}]",
    "--set",
    "oracle.rounds=20",
]
CASES = {
    "leave-only": ["leave-only", *SHORT_LEAVE],
    **{
        f"correction-{m}": ["leave-only-correction", *SHORT_LEAVE, "--set", f"correction.method={m}"]
        for m in (
            "proposed",
            "naive",
            "no_correction",
            "retrain",
            "ewc",
            "federaser_d2d",
            "influence_d2d",
            "kd_unlearn",
        )
    },
    "correction-fisher-full": [
        "leave-only-correction",
        *SHORT_LEAVE,
        "--set",
        "policy.arm=full",
        "--set",
        "policy.rule=fisher",
    ],
    "long-run": [
        "long-run",
        "--set",
        "trainer.rounds=40",
        "--set",
        "oracle.rounds=20",
        "--set",
        "events=[{round: 10, leave: [d0]}, {round: 20, join: [d6]}, {round: 30, leave: [d1]}]",
    ],
    "leave-only-mlp": [
        "leave-only-mlp",
        "--set",
        "trainer.rounds=30",
        "--set",
        "events=[{round: 15, leave: [d0]}]",
        "--set",
        "oracle.rounds=20",
    ],
}
TIMING = {"wall_time_s", "solve_time_s", "elapsed_s", "time_s_wall"}


def run(out: Path, cases: list[str]) -> None:
    for name in cases:
        target = out / name
        cmd = [sys.executable, "-m", "wirelora", "run", *CASES[name], "--out", str(target)]
        print("+", " ".join(cmd[2:]), flush=True)
        subprocess.run(cmd, check=True)


def _diff(a, b, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k in TIMING:
                continue
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'new' if k in b else 'reference'}")
            else:
                _diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: {a!r} != {b!r}")


def compare(ref: Path, new: Path) -> dict[str, list[str]]:
    report = {}
    for case in sorted(p.name for p in ref.iterdir() if (p / "history.json").is_file()):
        a = json.loads((ref / case / "history.json").read_text())
        f = new / case / "history.json"
        if not f.is_file():
            report[case] = ["missing in new"]
            continue
        b = json.loads(f.read_text())
        diffs: list[str] = []
        _diff(a.get("rounds"), b.get("rounds"), "rounds", diffs)
        _diff(a.get("meta"), b.get("meta"), "meta", diffs)
        report[case] = diffs
    return report


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("out", type=Path)
    r.add_argument("--cases", nargs="*", default=list(CASES))
    c = sub.add_parser("compare")
    c.add_argument("ref", type=Path)
    c.add_argument("new", type=Path)
    c.add_argument("--json", type=Path)
    args = p.parse_args()
    if args.cmd == "run":
        run(args.out, args.cases)
        return 0
    report = compare(args.ref, args.new)
    for case, diffs in report.items():
        print(f"{case}: {'identical' if not diffs else f'{len(diffs)} differences'}")
        for d in diffs[:10]:
            print("   ", d)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 1 if any(report.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
