"""``wirelora list`` names every shipped item with a description; ``--version`` is the package metadata."""

import subprocess
import sys
from importlib.metadata import version

import pytest

from wirelora.experiments.listing import PACKAGE, entries

CLI = [sys.executable, "-m", "wirelora"]


@pytest.mark.parametrize(
    ("kind", "folder"),
    [("configs", "experiments/configs"), ("models", "models"), ("examples", "allocation/examples")],
)
def test_list_names_every_shipped_file_with_a_description(kind, folder):
    listed = dict(entries(kind))
    shipped = {p.stem for p in (PACKAGE / folder).glob("*.yaml")}
    assert set(listed) == shipped and shipped
    assert all(listed.values()), f"a {kind} entry has no description: {listed}"
    out = subprocess.run([*CLI, "list", kind], capture_output=True, text=True, check=True).stdout
    assert [line.split()[0] for line in out.splitlines()] == sorted(shipped)


def test_version_is_the_installed_one():
    out = subprocess.run([*CLI, "--version"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"wirelora {version('wirelora')}"
