"""The layering contract (pyproject.toml, import-linter) holds, and it catches an upward import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "lint-imports"


def lint(root: Path) -> subprocess.CompletedProcess:
    # lint-imports is installed beside this interpreter, whether or not its venv is activated
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(["bash", str(SCRIPT), str(root)], capture_output=True, text=True, timeout=300, env=env)


def copy_sources(dest: Path) -> Path:
    """The parts of the repository that the contract reads, without the bundled zoo's weights."""
    ignore = shutil.ignore_patterns("zoo", "__pycache__", "examples")
    for part in ("comet_zoo", "cli", "plugins"):
        shutil.copytree(ROOT / part, dest / part, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_tree_keeps_every_contract():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module, injected, expected", [
    # model math reaching up into the hub
    ("core/energy.py", "\nfrom ..hub import resolve  # deliberate upward import\n",
     "comet_zoo.core.energy -> comet_zoo.hub"),
    # the cycle this layering broke: the hub's read path importing the artifact builder
    ("hub/__init__.py", "\n\ndef _build(*args):\n    from ..publish import build\n    return build(*args)\n",
     "comet_zoo.hub is not allowed to import comet_zoo.publish"),
])
def test_an_upward_import_breaks_the_contract(tmp_path, module, injected, expected):
    root = copy_sources(tmp_path)
    path = root / "comet_zoo" / module
    path.write_text(path.read_text() + injected)
    result = lint(root)
    assert result.returncode != 0 and "BROKEN" in result.stdout
    assert expected in result.stdout
