"""ARCHITECTURE.md's import rules: each layer loads only what it needs."""

import subprocess
import sys

import pytest

RULES = [
    ("wirelora", ["torch", "cvxpy", "peft", "transformers"]),
    ("wirelora.units", ["torch", "cvxpy"]),
    ("wirelora.network", ["torch", "cvxpy"]),
    ("wirelora.wireless", ["torch", "cvxpy"]),
    ("wirelora.allocation", ["torch", "peft", "transformers"]),
    ("wirelora.lora", ["cvxpy"]),
    ("wirelora.learning", ["cvxpy"]),
    ("wirelora.cli", ["torch", "cvxpy", "peft", "transformers"]),
]


@pytest.mark.parametrize(("module", "banned"), RULES)
def test_import_does_not_load(module, banned):
    code = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(','.join(m for m in {banned!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"import {module} loaded {out}"
