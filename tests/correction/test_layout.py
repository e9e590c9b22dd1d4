"""The correction package's modules import forward only: config → priority → plan → residual_rule → joint
(every import counted, function-level ones too), and none of them imports torch or the trainer."""

import ast
import pathlib

import wirelora

ORDER = ["config", "priority", "plan", "residual_rule", "joint"]
PKG = pathlib.Path(wirelora.__file__).parent / "correction"


def _imports(module: str) -> set[str]:
    tree = ast.parse((PKG / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_correction_modules_import_forward_only():
    for i, module in enumerate(ORDER):
        imported = _imports(module)
        later = [m for m in ORDER[i + 1 :] if f"wirelora.correction.{m}" in imported]
        assert not later, f"correction/{module}.py imports the later {later}"
        assert not any(m.startswith(("torch", "wirelora.learning")) for m in imported), module
