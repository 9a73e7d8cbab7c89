"""The Hugging Face backend against a real HF-compatible server (olah) on 127.0.0.1.

The server serves git repositories whose versions are tags, binary files through
LFS pointers as on the Hub; comet-zoo talks to it with the real huggingface_hub
client through HF_ENDPOINT. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import pytest

pytest.importorskip("olah", reason="the HF backend tests need the `olah` test dependency")

from comet_zoo import hub
from comet_zoo.hub import manifest  # noqa: E402
from comet_zoo.hub.backends import HfHub, open_hub  # noqa: E402
from comet_zoo.errors import CometError  # noqa: E402
from hub_support import OlahServer, add_version, comet, hub_env, make_card_source, make_model, publish_toy_versions, read_folder  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """olah serving zoo/toy with tags v1 and v2 (different weights) and an untagged newer commit,
    and zoo/evil holding only a pickle."""
    root = tmp_path_factory.mktemp("hf")
    publish_toy_versions(root, root / "built")
    with OlahServer(root / "olah") as srv:
        repo = srv.repo("zoo", "toy")
        srv.commits = {v: add_version(repo, read_folder(root / "built" / "toy" / v), v) for v in ("v1", "v2")}
        # main moves on past v2 without a tag: not a version, never pulled by name.
        head = read_folder(root / "built" / "toy" / "v2")
        head["README.md"] = head["README.md"].replace(b"a test model", b"work in progress")
        add_version(repo, head, None)
        add_version(srv.repo("zoo", "evil"), {"pytorch_model.bin": b"\x80\x04K\x01.", "config.json": b"{}"}, "v1")
        srv.built = root / "built"
        yield srv


@pytest.fixture
def home(tmp_path, monkeypatch, server):
    monkeypatch.setenv("COMET_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COMET_HUB", "hf://zoo")
    monkeypatch.setenv("COMET_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return tmp_path / "home"


def toy_cache(home):
    """The cache folder of hf://zoo on this endpoint's toy: COMET_HOME/models/<hub id>/toy."""
    return home / "models" / open_hub("hf://zoo").id / "toy"


def test_tags_are_versions(home):
    (backend,) = hub.hubs()
    assert backend.versions("toy") == ["v1", "v2"]  # the untagged head of main is no version
    ref, source = hub.locate("toy")
    assert (str(ref), source.url) == ("hf-hub:zoo/toy@v2", "hf://zoo")


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_pulling_a_tag_gets_that_version(home, server, version):
    path = hub.resolve(f"toy@{version}")
    assert path == toy_cache(home) / version
    manifest.verify(path)
    built = server.built / "toy" / version
    for rel in manifest.read(built):
        assert (path / rel).read_bytes() == (built / rel).read_bytes(), rel
    assert not [p.name for p in path.iterdir() if p.name.startswith(".")]  # no HF bookkeeping, no staging


def test_newest_tag_and_cli(home, server):
    env = hub_env(home, "hf://zoo", HF_ENDPOINT=server.url)
    result = comet("pull", "toy", env=env)
    assert result.returncode == 0, result.stderr
    assert (toy_cache(home) / "v2" / "model.safetensors").is_file()
    assert b"work in progress" not in (toy_cache(home) / "v2" / "README.md").read_bytes()
    card = comet("card", "toy@v2", env=env)
    assert card.returncode == 0 and "obj3" in card.stdout


def test_huggingface_hub_reads_the_artifact_unchanged(home, server):
    from huggingface_hub import ModelCard, snapshot_download

    path = snapshot_download("zoo/toy", revision="v1", cache_dir=home / "hf", endpoint=server.url)
    from pathlib import Path

    manifest.verify(Path(path))
    card = ModelCard.load(Path(path) / "README.md")
    assert [c["name"] for c in card.data.concepts] == ["obj0", "obj1", "obj2", "obj3"]


def test_pickle_only_repo_is_refused(home):
    with pytest.raises(CometError, match="only pickle-format weights .*pytorch_model.bin"):
        hub.resolve("evil@v1")
    assert not any((home / "models").rglob("v1")) if (home / "models").exists() else True


def test_unknown_repo_and_tag(home):
    with pytest.raises(CometError, match="unknown model 'nothere'"):
        hub.resolve("nothere")
    with pytest.raises(CometError, match="toy has no version v7; known: v1, v2"):
        hub.resolve("toy@v7")


def test_offline_skips_the_hf_hub_and_uses_the_cache(home, monkeypatch):
    hub.resolve("toy@v1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_requests(self):
        raise AssertionError("an offline hub was asked")
    monkeypatch.setattr(HfHub, "_api", no_requests)
    assert hub.resolve("toy") == toy_cache(home) / "v1"
    assert [e.ref for e in hub.catalog()] == ["toy"]
    with pytest.raises(CometError, match="not in the cache, and HF_HUB_OFFLINE is set, so hf://zoo was not asked"):
        hub.resolve("evil")
    with pytest.raises(CometError, match="no version v2; known: v1"):
        hub.resolve("toy@v2")


def test_push_to_a_hub_that_refuses_is_one_line_error(home, server, tmp_path):
    """olah is a read-only mirror: the real client's upload is refused, and comet says so in one line."""
    env = hub_env(home, "hf://zoo", HF_ENDPOINT=server.url, HF_TOKEN="hf_test_token")
    model = make_model(tmp_path / "m", seed=5)
    source = make_card_source(tmp_path / "src", "fresh")
    result = comet("push", str(model), "--as", "fresh", "--version", "v1", "--card", str(source),
                   "--hub", "hf://zoo", env=env)
    assert result.returncode == 1 and "push of fresh@v1 to hf://zoo failed" in result.stderr, result.stderr  # runtime
    assert "Traceback" not in result.stderr and "hf_test_token" not in result.stderr
