"""Real parts for the hub tests: artifacts built by comet-zoo, a directory hub, and a
Hugging Face-compatible server (olah) on 127.0.0.1 serving git repos whose versions are tags.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

TEXT_SUFFIXES = {".md", ".json", ".txt", ".yaml", ""}   # SHA256SUMS has no suffix
GIT = ["git", "-c", "user.name=comet-test", "-c", "user.email=test@comet.invalid", "-c", "commit.gpgsign=false",
       "-c", "tag.gpgsign=false"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def add_version(repo: Path, files: dict[str, bytes], tag: str | None) -> str:
    """Replace the repo's tree with `files`, commit, tag. Binary files go through LFS pointers,
    as on the Hugging Face Hub: the tree holds the pointer, .git/lfs/objects the content."""
    if not (repo / ".git").is_dir():
        repo.mkdir(parents=True, exist_ok=True)
        git(repo, "init", "-q", "-b", "main")
    for entry in repo.iterdir():
        if entry.name != ".git":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for rel, data in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if Path(rel).suffix in TEXT_SUFFIXES:
            path.write_bytes(data)
            continue
        oid = hashlib.sha256(data).hexdigest()
        obj = repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
        obj.parent.mkdir(parents=True, exist_ok=True)
        obj.write_bytes(data)
        path.write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", tag or "update")
    if tag:
        git(repo, "tag", tag)
    return git(repo, "rev-parse", "HEAD").strip()


def read_folder(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OlahServer:
    """olah in offline mode: serves mirrors/models/ORG/NAME git repos, nothing upstream."""

    def __init__(self, root: Path):
        self.root, self.port = root, free_port()
        self.mirrors = root / "mirrors"
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def repo(self, org: str, name: str) -> Path:
        return self.mirrors / "models" / org / name

    def __enter__(self) -> "OlahServer":
        self.mirrors.mkdir(parents=True, exist_ok=True)
        config = self.root / "olah.toml"
        netloc = f"127.0.0.1:{self.port}"
        config.write_text(
            "[basic]\n"
            f'host = "127.0.0.1"\nport = {self.port}\n'
            f'mirror-netloc = "{netloc}"\nmirror-lfs-netloc = "{netloc}"\n'
            f'repos-path = "{self.root / "olah-cache"}"\nmirrors-path = ["{self.mirrors}"]\n'
            "metadata-cache-ttl = 0\n"
            "[accessibility]\noffline = true\n")
        log = open(self.root / "olah.log", "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "olah.server", "-c", str(config),
                                      "--log-path", str(self.root / "logs")],
                                     cwd=self.root, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"olah exited: {(self.root / 'olah.log').read_text()[-2000:]}")
            try:
                httpx.get(self.url + "/api/models/none/none/revision/main", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.3)
        raise RuntimeError("olah did not start within 60 s")

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# -- models and artifacts ------------------------------------------------------------
def make_model(folder: Path, seed: int = 0, components: int = 4, pos_embed: list[bool] | None = None) -> Path:
    """A tiny untrained COMET saved like `comet train` exports it (model.safetensors + config.json)."""
    import torch

    from comet_zoo.core.config import CometConfig
    from comet_zoo.core.model import COMET

    torch.manual_seed(seed)
    config = CometConfig(image_size=16, num_components=components, latent_dim=8, width=8, num_blocks=2,
                         stem_stride=2, encoder="recurrent", pos_embed=pos_embed or [True] * components, steps=2)
    COMET(config).save_pretrained(folder)
    return folder


def make_card_source(folder: Path, name: str, components: int = 4) -> Path:
    """A card source and the recipe it names (16x16 shapes, matching make_model)."""
    folder.mkdir(parents=True, exist_ok=True)
    recipe = folder / f"{name}-recipe.json"
    recipe.write_text('{"model": {"image_size": 16, "num_components": %d, "width": 8, "latent_dim": 8},'
                      ' "train": {"dataset": "shapes", "dataset_options": {"max_objects": 2}, "total_steps": 1}}'
                      % components)
    concepts = "\n".join(f"  - {{name: obj{k}, kind: local, description: object {k}, exemplar: {k % 2}}}"
                         for k in range(components))
    source = folder / f"{name}.yaml"
    source.write_text(f"name: {name}\ntitle: Test {name}\nsummary: a test model\nrecipe: {recipe}\n"
                      f"exemplars: 4\ntags: [test]\nconcepts:\n{concepts}\n")
    return source


def hub_env(home: Path, hub: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMET_", "HF_"))}
    env.update(COMET_HOME=str(home), COMET_HUB=hub, COMET_CONFIG=str(home / "no-config.toml"),
               HF_HUB_DISABLE_TELEMETRY="1", HF_HOME=str(home / "hf-home"), **extra)
    return env


def comet(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess (python -m, so it runs from this checkout's interpreter)."""
    return subprocess.run([sys.executable, "-m", "comet_zoo.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def publish_toy_versions(root: Path, hub_dir: Path) -> Path:
    """toy@v1 and toy@v2 (different weights) pushed by `publish.push` into the file:// hub `hub_dir`."""
    import pytest

    from comet_zoo import publish

    source = make_card_source(root / "src", "toy")
    mp = pytest.MonkeyPatch()
    mp.setenv("COMET_HOME", str(root / "publisher-home"))
    mp.setenv("COMET_CONFIG", str(root / "no-config.toml"))
    try:
        for version, seed in (("v1", 0), ("v2", 1)):
            publish.push(make_model(root / f"model-{version}", seed=seed), "toy", version,
                         hub=f"file://{hub_dir}", card_source=source)
    finally:
        mp.undo()
    return hub_dir
