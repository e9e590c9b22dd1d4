"""The pipeline order of docs/architecture.md, checked on the source: module-level imports point forward,
no import cycle exists between modules (function-level imports included), and no module is over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "wirelora"

# Layers in pipeline order; a module may import, at module level, only from its own layer or an earlier one.
ORDER = [
    {"units", "errors", "config", "files", "streams", "provenance", "progress"},
    {"wireless"},
    {"network"},
    {"allocation"},
    {"lora"},
    {"correction"},
    {"distributed"},
    {"learning"},
    {"evaluation"},
    {"experiments"},
    {"cli", "__init__", "__main__"},
]


def _layer(module: str) -> int:
    head = module.split(".")[1] if "." in module else "__init__"
    for i, names in enumerate(ORDER):
        if head in names:
            return i
    raise AssertionError(f"{module}: its top-level name {head!r} is in no layer of ORDER")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The wirelora module ``name`` refers to (an attribute import resolves to its module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> list[tuple[str, bool]]:
    """(imported wirelora module, at module level?) for every import in the file."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top = {id(n) for n in tree.body}
    for node in tree.body:  # imports under `if TYPE_CHECKING:` or try/except at top level count as top
        if isinstance(node, ast.If | ast.Try):
            top |= {id(n) for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)}
    type_only = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only |= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = package.split(".")
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join([*pkg, base] if base else pkg)
            names = [f"{base}.{a.name}" for a in node.names]
        for n in names:
            if n.startswith("wirelora"):
                target = _resolve(n)
                if target and target != module:
                    found.append((target, id(node) in top))
    return found


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_level_imports_point_forward(module):
    if module == "wirelora":  # the package facade re-exports the public API of every layer
        return
    mine = _layer(module)
    back = sorted({t for t, top in GRAPH[module] if top and _layer(t) > mine and t != "wirelora"})
    assert not back, f"{module} imports {back} at module level, against the pipeline order"


def test_no_import_cycles():
    edges = {
        m: sorted({t for t, _ in GRAPH[m] if t != "wirelora" and not m.startswith(t + ".")}) for m in GRAPH
    }
    # a package's __init__ importing its own submodules is not a cycle with them
    colour: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(m: str) -> None:
        colour[m] = 1
        stack.append(m)
        for t in edges.get(m, []):
            if t.startswith(m + "."):
                continue
            if colour.get(t) == 1:
                cycles.append(stack[stack.index(t) :] + [t])
            elif t not in colour:
                visit(t)
        stack.pop()
        colour[m] = 2

    for m in sorted(edges):
        if m not in colour:
            visit(m)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_every_module_is_small():
    big = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 400}
    assert not big, f"modules over 400 lines: {big}"
