"""Dataset plugins end to end: the CLI, the installed example package, broken plugins, packaging."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from comet_zoo.data import load_dataset
from comet_zoo.errors import CometError

REPO = Path(__file__).resolve().parents[1]
COMET = str(Path(sys.executable).parent / "comet")
EXAMPLE = REPO / "plugins" / "examples" / "comet-stripes"


def comet(*args, env=None, cwd=None):
    env = {**(env or os.environ), "COLUMNS": "200"}          # a wide table: rows stay on one line
    return subprocess.run([COMET, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def pip(*args):
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=300)


def test_datasets_list_shows_every_builtin_with_its_columns():
    out = comet("datasets", "list")
    assert out.returncode == 0, out.stderr
    rows = {line.split("│")[1].strip(): line for line in out.stdout.splitlines() if line.count("│") >= 5}
    for name in ("clevr", "clevr-lighting", "clevr-toy", "tetrominoes", "falcor", "shapes"):
        assert name in rows and "comet-zoo" in rows[name]
    assert "35×35" in rows["tetrominoes"] and "64×64" in rows["clevr"]
    assert " no " in rows["falcor"] and " yes " in rows["clevr"]
    assert "light_azimuth" in rows["clevr-lighting"]


def test_preview_writes_a_grid_with_outline_rows(tmp_path):
    png = tmp_path / "grid.png"
    out = comet("datasets", "preview", "tetrominoes", "-o", str(png), "--n", "6", "--nrow", "3", "--scale", "1")
    assert out.returncode == 0, out.stderr
    with Image.open(png) as im:
        # 2 rows of scenes, each followed by its outlined copy: 4 rows of 35 px, 2 px padding
        assert im.size == (3 * 37 + 2, 4 * 37 + 2)
        arr = __import__("numpy").asarray(im.convert("RGB"))
    plain, lined = arr[2:37, 2:37], arr[39:74, 2:37]
    white = (lined == 255).all(-1) & ~(plain == 255).all(-1)
    assert white.sum() > 20                                                    # outlines were drawn
    bad = comet("datasets", "preview", "tetromino", "-o", str(tmp_path / "x.png"))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "tetrominoes" in bad.stderr and not (tmp_path / "x.png").exists()
    bad = comet("datasets", "preview", "clevr", "-o", str(tmp_path / "x.png"), "--option", "max_objects=12")
    assert bad.returncode == 2 and "max_objects" in bad.stderr


@pytest.fixture
def stripes_installed(tmp_path):
    """pip-install the example plugin package (a copy, so no build files land in the repo)."""
    src = tmp_path / "comet-stripes"
    shutil.copytree(EXAMPLE, src)
    done = pip("install", "-q", "--no-deps", "--no-build-isolation", str(src))
    assert done.returncode == 0, done.stderr
    try:
        yield
    finally:
        pip("uninstall", "-q", "-y", "comet-zoo-stripes")


def test_installed_example_plugin_is_listed_and_trains(stripes_installed, tmp_path):
    out = comet("datasets", "list")
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if "stripes" in line)
    assert "comet-zoo-stripes" in row and "32×32" in row and "yes" in row and "background_brightness" in row
    recipe = tmp_path / "tiny.json"
    recipe.write_text(json.dumps({
        "model": {"image_size": 16, "num_components": 2, "latent_dim": 4, "width": 8, "num_blocks": 2,
                  "encoder": "conv", "pos_embed": [True, False], "steps": 2, "step_size": 10.0},
        "train": {"dataset": "stripes", "dataset_options": {"max_bars": 2}, "train_size": 32, "batch_size": 4,
                  "total_steps": 5, "checkpoint_every": 1, "log_every": 1}}))
    run = tmp_path / "run"
    out = comet("train", str(recipe), "--steps", "2", "--out", str(run))
    assert out.returncode == 0, out.stdout + out.stderr
    assert (run / "samples.png").is_file() and any(run.iterdir())
    preview = comet("datasets", "preview", "stripes", "-o", str(tmp_path / "s.png"), "--n", "4")
    assert preview.returncode == 0 and (tmp_path / "s.png").is_file()


BROKEN = {
    "broken_import": "raise ImportError('needs a package that is not installed')\n",
    "wrong_columns": """
        import numpy as np

        class Wrong:
            name, size = "wrong", 8
            def __init__(self, size=8):
                self.size = size
            def generate(self, split, n, seed=0):
                return {"pixels": np.zeros((n, 8, 8, 3), np.float32)}

        class WrongFactors(Wrong):
            def generate(self, split, n, seed=0):
                from comet_zoo.data import Scenes
                return Scenes(np.zeros((n, 3, 8, 8), np.float32), factors=np.zeros((n, 2), np.float32),
                              factor_names=["only_one"])

        class Oblong(Wrong):
            def generate(self, split, n, seed=0):
                from comet_zoo.data import Scenes
                return Scenes(np.zeros((n, 3, 8, 6), np.float32))

        class Short(Wrong):
            def generate(self, split, n, seed=0):
                from comet_zoo.data import Scenes
                return Scenes(np.zeros((max(n - 1, 0), 3, 8, 8), np.float32))

        class ListMasks(Wrong):
            def generate(self, split, n, seed=0):
                from comet_zoo.data import Scenes
                return Scenes(np.zeros((n, 3, 8, 8), np.float32), masks=[[0] * 8] * 8)

        class Raises(Wrong):
            def generate(self, split, n, seed=0):
                return 1 / 0
    """,
}


@pytest.fixture
def broken_plugins(tmp_path, monkeypatch):
    """A real distribution (dist-info + modules on sys.path) registering three bad datasets."""
    info = tmp_path / "bad_plugins-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bad-plugins\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[comet_zoo.datasets]\nbroken = broken_import:Dataset\nwrong = wrong_columns:Wrong\n"
        "wrongfactors = wrong_columns:WrongFactors\noblong = wrong_columns:Oblong\nshort = wrong_columns:Short\n"
        "listmasks = wrong_columns:ListMasks\nraises = wrong_columns:Raises\n")
    for module, source in BROKEN.items():
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_broken_plugins_are_named_and_contained(broken_plugins):
    with pytest.raises(CometError, match=r"bad-plugins:broken .*ImportError.*not installed"):
        load_dataset("broken", "train", 2)
    with pytest.raises(CometError, match=r"dataset wrong: generate\(\) must return .*Scenes.*dict"):
        load_dataset("wrong", "train", 2)
    with pytest.raises(CometError, match=r"dataset wrongfactors: factors must be \[N, F\]"):
        load_dataset("wrongfactors", "train", 2)
    for name, message in (("oblong", "images must be square, got 8x6"), ("short", r"asked for 2 scenes, generate\(\) returned 1"),
                          ("listmasks", "masks must be an \\[N, H, W\\] array, got list"),
                          ("raises", r"dataset raises: generate\(\) failed: ZeroDivisionError: division by zero")):
        with pytest.raises(CometError, match=message):
            load_dataset(name, "train", 2)
    assert load_dataset("clevr", "train", 2, size=16).images.shape == (2, 3, 16, 16)   # others still work

    env = {**os.environ, "PYTHONPATH": str(broken_plugins)}
    out = comet("datasets", "list", env=env)
    assert out.returncode == 0, out.stderr
    rows = {line.split("│")[1].strip(): line for line in out.stdout.splitlines() if line.count("│") >= 5}
    assert "error" in rows["broken"] and "bad-plugins" in rows["broken"]
    assert "error" in rows["wrong"] and "error" in rows["wrongfactors"]
    assert "64×64" in rows["clevr"] and "error" not in rows["clevr"]
    bad = comet("datasets", "preview", "broken", "-o", str(broken_plugins / "x.png"), env=env)
    assert bad.returncode == 2 and "bad-plugins:broken" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    failing = comet("datasets", "preview", "raises", "-o", str(broken_plugins / "y.png"), env=env)
    assert failing.returncode == 1 and "dataset raises: generate() failed" in failing.stderr
    assert "Traceback" not in failing.stderr and len(failing.stderr.strip().splitlines()) == 1


def test_regular_install_does_not_ship_the_examples(tmp_path):
    tree = tmp_path / "src"
    tree.mkdir()
    for part in ("pyproject.toml", "README.md", "comet_zoo", "cli", "plugins"):
        (shutil.copytree if (REPO / part).is_dir() else shutil.copy)(REPO / part, tree / part)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            str(tree), "-w", str(tmp_path / "dist")], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    names = zipfile.ZipFile(next((tmp_path / "dist").glob("*.whl"))).namelist()
    assert "comet_zoo/plugins/clevr.py" in names and "comet_zoo/plugins/falcor.py" in names
    assert not [n for n in names if "examples" in n or "stripes" in n]
