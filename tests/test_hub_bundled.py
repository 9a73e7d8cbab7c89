"""The bundled zoo: complete, verified, small, and pullable offline, from a regular
(non-editable) install too."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from comet_zoo.hub import manifest
from comet_zoo.hub.backends import bundled_root, open_hub
from comet_zoo.hub.cards import read_card
from comet_zoo.hub.names import sort_versions
from hub_support import comet, hub_env

REPO = Path(__file__).resolve().parents[1]
ZOO = ("clevr", "clevr-lighting", "clevr-toy", "clevr64")
VERSIONS = {name: sort_versions(open_hub("bundled").versions(name)) for name in ZOO}  # oldest first
NEWEST = {name: versions[-1] for name, versions in VERSIONS.items()}


ARCHIVE = REPO / "zoo-archive"
ARCHIVED = [(n, v) for n in ZOO if (ARCHIVE / n).is_dir() for v in sort_versions(p.name for p in (ARCHIVE / n).iterdir())]


@pytest.mark.parametrize("name, version, where", [(n, v, "bundled") for n in ZOO for v in VERSIONS[n]]
                         + [(n, v, "archive") for n, v in ARCHIVED], ids=str)
def test_bundled_model_is_complete(name, version, where):
    snapshot = (bundled_root() if where == "bundled" else ARCHIVE) / name / version
    manifest.verify(snapshot)
    info = read_card(snapshot)
    assert (info.name, info.version) == (name, version)
    assert 4 <= len(info.exemplars) <= 8 and all((snapshot / e).is_file() for e in info.exemplars)
    config = json.loads((snapshot / "config.json").read_text())
    assert len(info.concepts) == config["num_components"]
    for concept, pos in zip(info.concepts, config["pos_embed"]):
        assert concept.kind == ("local" if pos else "global")
    assert not [p for p in snapshot.rglob("*") if p.suffix in manifest.PICKLE_SUFFIXES]


def test_clevr_lighting_has_a_light_and_four_object_slots():
    # The README's main job composes clevr-lighting:light0; the slots are named by what they bind.
    info = read_card(bundled_root() / "clevr-lighting" / NEWEST["clevr-lighting"])
    assert info.concept("light0").kind == "global"
    assert sorted(c.kind for c in info.concepts) == ["global"] + ["local"] * 4


def test_the_package_ships_only_the_newest_versions_and_the_archive_serves_the_rest(tmp_path):
    assert all(len(versions) == 1 for versions in VERSIONS.values()), VERSIONS
    if not ARCHIVE.is_dir():
        pytest.skip("zoo-archive/ is in the repository, not in an installed package")
    name, version = ARCHIVED[0]
    env = hub_env(tmp_path / "home", "bundled")            # the archive is not configured: named in full
    pulled = comet("pull", f"file://{ARCHIVE}/{name}@{version}", env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert comet("pull", name, env=env).returncode == 0   # the bare name is still the bundled newest


def test_bundled_zoo_is_small():
    total = sum(p.stat().st_size for p in bundled_root().rglob("*") if p.is_file())
    assert total <= 10 * 2**20, f"bundled zoo is {total / 2**20:.1f} MB"


def test_offline_pull_into_a_fresh_home(tmp_path):
    env = hub_env(tmp_path / "home", "", HF_HUB_OFFLINE="1")
    del env["COMET_HUB"]  # the built-in default order: bundled, then COMET_HOME/hub
    result = comet("pull", "clevr-toy", env=env)
    assert result.returncode == 0, result.stderr
    snapshot = tmp_path / "home" / "models" / "bundled" / "clevr-toy" / NEWEST["clevr-toy"]  # NAME alone: the newest
    manifest.verify(snapshot)
    listed = comet("list", env=env)
    assert all(name in listed.stdout for name in ZOO) and NEWEST["clevr"] in listed.stdout


def test_regular_install_carries_the_zoo(tmp_path):
    """Build a wheel from a copy of the sources, install it into a target folder (no deps)
    and pull offline with only that install of comet_zoo importable first."""
    src = tmp_path / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", ".*")
    for part in ("comet_zoo", "cli", "plugins"):
        shutil.copytree(REPO / part, src / part, ignore=skip)
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / part, src / part)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(src)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("comet_zoo-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ZOO:
        for version in VERSIONS[name]:
            for rel in manifest.read(bundled_root() / name / version):
                assert f"comet_zoo/zoo/{name}/{version}/{rel}" in names
    assert "comet_zoo/recipes/quickstart.json" in names
    target = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    env = hub_env(tmp_path / "home", "", HF_HUB_OFFLINE="1", PYTHONPATH=str(target))
    del env["COMET_HUB"]
    code = ("import comet_zoo, sys; from comet_zoo import hub; print(comet_zoo.__file__); "
            "print(hub.resolve('clevr-toy')); print(type(hub.load_model('clevr-toy')).__name__)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    module, snapshot, model = out.stdout.split()
    assert module.startswith(str(target)) and model == "COMET"
    assert Path(snapshot) == tmp_path / "home" / "models" / "bundled" / "clevr-toy" / NEWEST["clevr-toy"]
