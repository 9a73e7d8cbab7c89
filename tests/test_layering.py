"""The layering contract (pyproject.toml, import-linter) holds, and it catches an upward import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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


def test_an_upward_import_from_core_into_the_hub_breaks_the_contract(tmp_path):
    root = copy_sources(tmp_path)
    energy = root / "comet_zoo" / "core" / "energy.py"
    energy.write_text(energy.read_text() + "\nfrom ..hub import resolve  # deliberate upward import\n")
    result = lint(root)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert "comet_zoo.core.energy -> comet_zoo.hub" in result.stdout


def test_a_read_path_import_of_publishing_breaks_the_contract(tmp_path):
    """The cycle this layering broke: the hub's read path importing the artifact builder."""
    root = copy_sources(tmp_path)
    hub = root / "comet_zoo" / "hub" / "__init__.py"
    hub.write_text(hub.read_text() + "\n\ndef _build(*args):\n    from ..publish import build\n    return build(*args)\n")
    result = lint(root)
    assert result.returncode != 0
    assert "comet_zoo.hub is not allowed to import comet_zoo.publish" in result.stdout
