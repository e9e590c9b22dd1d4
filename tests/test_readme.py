"""The README keeps its promises: the Python quickstart runs, the set-up commands match CI and the
CLI, and every embedded figure exists."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

from wirelora.cli import REPRODUCE_TARGETS, build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, flags=re.S | re.M)
    assert match, f"README has no section '## {title}'"
    return match.group(1)


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_python_quickstart_runs(tmp_path):
    (code,) = _blocks(_section("Python quickstart"), "python")
    script = tmp_path / "quickstart.py"
    script.write_text(code)
    env = {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "round latency 4.9155 s" in done.stdout


def test_setup_commands_are_the_ci_commands_and_parse():
    (block,) = _blocks(_section("Set up"), "bash")
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert commands[1] == ci  # CI runs exactly the README's test command
    main_job = shlex.split(commands[0].split("&&")[-1])
    assert main_job[0] == ".venv/bin/wirelora"
    args = build_parser().parse_args(main_job[1:])
    assert args.command == "reproduce" and args.quick
    assert set(args.targets) <= set(REPRODUCE_TARGETS)
    assert args.out != "figures"  # the quick run must not overwrite the committed full-setting figures


def test_embedded_figures_exist():
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert images
    for path in images:
        assert (ROOT / path).is_file(), path


def test_cli_section_names_every_subcommand():
    cli = _section("Command line")
    for command in ("allocate", "run", "resume", "reproduce"):
        assert f"wirelora {command}" in cli
