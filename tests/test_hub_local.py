"""The hub end to end on a local directory hub: push, pull, list, card, rm, versions,
verification (truncated / bit-flipped / pickle-only), and concurrent pulls."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from comet_zoo import hub, publish
from comet_zoo.hub import manifest
from comet_zoo.hub.backends import open_hub
from comet_zoo.errors import CometError
from hub_support import comet, hub_env, make_card_source, make_model, publish_toy_versions


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """A file:// hub holding toy@v1 and toy@v2 (different weights), built by `publish.push`."""
    root = tmp_path_factory.mktemp("zoo")
    return publish_toy_versions(root, root / "hub")


@pytest.fixture
def home(tmp_path, monkeypatch, zoo):
    monkeypatch.setenv("COMET_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COMET_HUB", f"file://{zoo}")
    monkeypatch.setenv("COMET_CONFIG", str(tmp_path / "no-config.toml"))
    return tmp_path / "home"


def toy_cache(home: Path, zoo: Path) -> Path:
    """Where the cache keeps the zoo hub's toy versions: COMET_HOME/models/<hub id>/toy."""
    return home / "models" / open_hub(f"file://{zoo}").id / "toy"


def test_artifact_is_a_plain_model_repo(zoo):
    v1 = zoo / "toy" / "v1"
    names = {p.relative_to(v1).as_posix() for p in v1.rglob("*") if p.is_file()}
    assert {"model.safetensors", "config.json", "README.md", "SHA256SUMS", "reconstructions.png"} <= names
    assert sorted(n for n in names if n.startswith("exemplars/")) == [f"exemplars/{i}.png" for i in range(4)]
    manifest.verify(v1)
    from huggingface_hub import ModelCard

    data = ModelCard.load(v1 / "README.md").data.to_dict()
    assert data["library_name"] == "comet-zoo" and data["datasets"] == ["comet-zoo/shapes-procedural"]
    from comet_zoo.hub.cards import read_card

    assert data["comet_dataset"] == "shapes" and read_card(v1).dataset == "shapes"   # ours, not a benchmark's name
    assert [c["name"] for c in data["concepts"]] == ["obj0", "obj1", "obj2", "obj3"]
    assert {c["kind"] for c in data["concepts"]} == {"local"} and data["concepts"][2]["index"] == 2
    assert data["training"]["train"]["dataset"] == "shapes" and "mse" in data["metrics"]


def test_newest_and_pinned_versions(home, zoo):
    assert hub.resolve("toy").name == "v2"
    v1 = hub.resolve("toy@v1")
    assert v1 == toy_cache(home, zoo) / "v1"
    assert (v1 / "model.safetensors").read_bytes() != (toy_cache(home, zoo) / "v2/model.safetensors").read_bytes()
    model = hub.load_model("toy@v1")
    assert type(model).__name__ == "COMET" and model.config.num_components == 4
    info = hub.card("toy")
    assert info.version == "v2" and info.concept("obj1").index == 1
    with pytest.raises(CometError, match="no concept 'light0'"):
        info.concept("light0")
    assert info.exemplar() == info.snapshot / "exemplars/0.png" and info.exemplar(concept="obj3").is_file()
    with pytest.raises(CometError, match="exemplars 0..3, not 9"):
        info.exemplar(9)


def test_cli_pull_list_card_rm(home, zoo):
    env = hub_env(home, f"file://{zoo}")
    pulled = comet("pull", "toy@v1", env=env)
    assert pulled.returncode == 0, pulled.stderr
    listed = comet("list", "--versions", env=env)
    assert listed.returncode == 0 and "toy" in listed.stdout and "v2" in listed.stdout
    assert "obj0…obj3" in comet("list", env=env).stdout
    card = comet("card", "toy", env=env)
    assert card.returncode == 0 and "Concepts" in card.stdout and "obj3" in card.stdout
    assert comet("rm", "toy@v1", env=env).returncode == 0
    assert not (toy_cache(home, zoo) / "v1").exists() and (toy_cache(home, zoo) / "v2").is_dir()
    gone = comet("rm", "toy@v1", env=env)
    assert gone.returncode == 2 and "not in the cache" in gone.stderr


@pytest.mark.parametrize("bad, message", [
    ("../x", "is a local folder"), ("/etc/passwd", "is a local folder"), ("Toy", "expected NAME[@vN]"),
    ("toy@1", "invalid version"), ("toy@v1/../../x", "is a local folder"), ("toi", "did you mean toy"),
    ("file://relative/toy", "an absolute DIR"), ("hf-hub:toy", "expected hf-hub:ORG/NAME"),
    ("bundled:toy@v01", "invalid version"), ("file:///nowhere/toy", "toy is not in file:///nowhere"),
    ("toy@v9", "no version v9; known: v1, v2"),
])
def test_bad_names_are_one_line_errors(home, zoo, bad, message):
    result = comet("pull", bad, env=hub_env(home, f"file://{zoo}"))
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (home / "models").exists() or not any((home / "models").rglob("*.safetensors"))


def test_hub_urls_with_credentials_are_refused(home):
    for url in ("hf://user:secret@org", "file://user:pw@host/zoo"):
        with pytest.raises(CometError, match="credentials") as err:
            open_hub(url)
        assert "secret" not in str(err.value) and "pw" not in str(err.value)


def _damaged_hub(zoo: Path, tmp: Path, damage) -> Path:
    bad = tmp / "bad-hub"
    shutil.copytree(zoo / "toy" / "v1", bad / "toy" / "v1")
    damage(bad / "toy" / "v1")
    return bad


def _truncate(folder: Path) -> None:
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-100])


def _flip(folder: Path) -> None:
    path = folder / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-7] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_truncate, _flip])
def test_corrupt_weights_are_refused_and_nothing_is_cached(home, zoo, tmp_path, monkeypatch, damage):
    bad = _damaged_hub(zoo, tmp_path, damage)
    monkeypatch.setenv("COMET_HUB", f"file://{bad}")
    with pytest.raises(CometError, match="model.safetensors does not match its sha256"):
        hub.resolve("toy@v1")
    leftovers = [p for p in (home / "models").rglob("*")] if (home / "models").exists() else []
    assert all(p.is_dir() or p.name == "hub.json" for p in leftovers) and not (toy_cache(home, bad) / "v1").exists()


def test_pickle_only_repo_is_refused(home, tmp_path, monkeypatch):
    repo = tmp_path / "pickles" / "evil" / "v1"
    repo.mkdir(parents=True)
    (repo / "pytorch_model.bin").write_bytes(b"\x80\x04K\x01.")  # a pickle: never opened
    (repo / "config.json").write_text("{}")
    monkeypatch.setenv("COMET_HUB", f"file://{tmp_path / 'pickles'}")
    with pytest.raises(CometError, match="only pickle-format weights .*pytorch_model.bin"):
        hub.resolve("evil@v1")


def test_manifest_cannot_point_outside_the_snapshot(home, zoo, tmp_path, monkeypatch):
    def escape(folder: Path) -> None:
        text = (folder / "SHA256SUMS").read_text()
        (folder / "SHA256SUMS").write_text(text + f"{'0' * 64}  ../../outside.txt\n")
    monkeypatch.setenv("COMET_HUB", f"file://{_damaged_hub(zoo, tmp_path, escape)}")
    with pytest.raises(CometError, match="refused file name '../../outside.txt'"):
        hub.resolve("toy@v1")
    assert not (home / "outside.txt").exists()


def test_damaged_cache_is_repulled(home):
    path = hub.resolve("toy@v1")
    _flip(path)
    again = hub.resolve("toy@v1")
    manifest.verify(again)


def test_push_refuses_existing_versions_and_read_only_hubs(zoo, tmp_path, monkeypatch):
    monkeypatch.setenv("COMET_HOME", str(tmp_path / "home"))
    model = make_model(tmp_path / "m")
    with pytest.raises(CometError, match="already exists"):
        publish.push(model, "toy", "v1", hub=f"file://{zoo}")
    with pytest.raises(CometError, match="read-only"):
        publish.push(model, "toy", "v3", hub="bundled", card_source=make_card_source(tmp_path / "s", "toy"))


def test_push_by_default_goes_to_the_local_hub(tmp_path, zoo):
    home = tmp_path / "home"
    env = hub_env(home, f"bundled,file://{home / 'hub'}")
    src = make_card_source(tmp_path / "src", "mine")
    model = make_model(tmp_path / "model", seed=3)
    pushed = comet("push", str(model), "--as", "mine", "--version", "v1", "--card", str(src), "--fp16", env=env)
    assert pushed.returncode == 0, pushed.stderr
    manifest.verify(home / "hub" / "mine" / "v1")

    from safetensors.torch import load_file

    published = home / "hub" / "mine" / "v1"
    trained, fp32 = load_file(str(model / "model.safetensors")), load_file(str(published / "model.safetensors"))
    half = load_file(str(published / "model.fp16.safetensors"))
    assert all((fp32[k] == trained[k]).all() for k in trained)        # the evaluated weights, unchanged
    assert {v.dtype for v in half.values() if v.is_floating_point()} == {torch.float16}   # a variant beside them
    assert comet("pull", "mine", env=env).returncode == 0


def test_concurrent_pulls_end_with_one_good_copy(tmp_path, zoo):
    home = tmp_path / "home"
    env = hub_env(home, f"file://{zoo}")
    env["COLUMNS"] = "500"  # one output line per pull
    procs = [subprocess.Popen([sys.executable, "-m", "comet_zoo.cli.main", "pull", "toy@v2"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert {o.strip() for o, _ in outs} == {f"file://{zoo}/toy@v2 → {toy_cache(home, zoo) / 'v2'}"}
    assert sorted(p.name for p in toy_cache(home, zoo).iterdir()) == ["v2", "v2.pulled"]  # no temporary leftovers
    manifest.verify(toy_cache(home, zoo) / "v2")


def test_hub_order_from_env_then_config_file(tmp_path, monkeypatch, zoo):
    monkeypatch.setenv("COMET_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COMET_HUB", raising=False)
    config = tmp_path / "config.toml"
    monkeypatch.setenv("COMET_CONFIG", str(config))
    assert hub.hub_urls() == ["bundled", f"file://{tmp_path / 'home' / 'hub'}"]  # no config file: the default
    config.write_text(f'hubs = ["file://{zoo}", "hf://some-org"]\npush = "file://{tmp_path / "pub"}"\n')
    assert hub.hub_urls() == [f"file://{zoo}", "hf://some-org"]
    assert hub.push_hub().url == f"file://{tmp_path / 'pub'}"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert [b.url for b in hub.hubs()] == [f"file://{zoo}", "hf://some-org"]
    assert hub.hubs()[1].versions("toy") == []  # offline: no server is asked, only the cache answers
    monkeypatch.setenv("COMET_HUB", "bundled")
    assert hub.hub_urls() == ["bundled"]
    config.write_text("hubs = 3\n")
    monkeypatch.delenv("COMET_HUB")
    with pytest.raises(CometError, match="'hubs' must be a hub URL or a list"):
        hub.hub_urls()
    with pytest.raises(CometError, match="unknown hub 'https://example.com'"):
        open_hub("https://example.com")


def _rehash(folder: Path) -> None:
    (folder / "SHA256SUMS").unlink()
    manifest.write(folder)


def test_pickle_disguised_as_safetensors_is_refused(home, zoo, tmp_path, monkeypatch):
    """Even with a matching manifest, weights that are not safetensors never reach the cache."""
    def disguise(folder: Path) -> None:
        (folder / "model.safetensors").write_bytes(b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.")
        _rehash(folder)
    monkeypatch.setenv("COMET_HUB", f"file://{_damaged_hub(zoo, tmp_path, disguise)}")
    with pytest.raises(CometError, match="model.safetensors is not a valid safetensors file"):
        hub.resolve("toy@v1")
    assert not any((home / "models").rglob("v1"))


def test_manifest_listing_a_pickle_is_refused(home, zoo, tmp_path, monkeypatch):
    def add_pickle(folder: Path) -> None:
        (folder / "extra.pt").write_bytes(b"\x80\x04K\x01.")
        digest = manifest.sha256_file(folder / "extra.pt")
        with open(folder / "SHA256SUMS", "a") as f:  # by hand: manifest.write itself refuses pickles
            f.write(f"{digest}  extra.pt\n")
    monkeypatch.setenv("COMET_HUB", f"file://{_damaged_hub(zoo, tmp_path, add_pickle)}")
    with pytest.raises(CometError, match="extra.pt is a pickle-format file"):
        hub.resolve("toy@v1")


def test_push_puts_eval_metrics_figures_and_weight_facts_on_the_card(tmp_path):
    from huggingface_hub import ModelCard

    from comet_zoo.data.images import grid, save_png

    model = make_model(tmp_path / "model", seed=5)
    env = hub_env(tmp_path / "home", f"file://{tmp_path / 'hub'}")
    report = tmp_path / "eval.json"
    out = comet("eval", str(model), "--dataset", "shapes", "--n", "8", "--metrics", "reconstruction,segmentation",
                "--json", str(report), env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    import torch

    figure = save_png(grid(torch.rand(1, 3, 16, 16), nrow=1), tmp_path / "decomposition.png")
    source = make_card_source(tmp_path / "src", "toy")
    source.write_text(source.read_text() + f"figures:\n  - {{title: Decomposition, path: {figure}}}\n")
    out = comet("push", str(model), "--as", "toy", "--version", "v1", "--card", str(source), "--fp16",
                "--eval", str(report), "--hub", f"file://{tmp_path / 'hub'}", env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    artifact = tmp_path / "hub" / "toy" / "v1"
    manifest.verify(artifact)                                   # the card edit happened before the manifest
    card = ModelCard.load(artifact / "README.md")
    metrics = {r.metric_type: r.metric_value for r in card.data.eval_results}
    import json

    flat = json.loads(report.read_text())["segmentation"]
    assert metrics["fg_ari"] == pytest.approx(flat["model"]["fg_ari"])
    assert metrics["fg_ari_stripes"] == pytest.approx(flat["stripes"]["fg_ari"])
    assert card.data.to_dict()["segmentation_readout"] == flat["readout"]   # how those numbers were read out
    tasks = {r.metric_type: (r.task_type, r.dataset_type) for r in card.data.eval_results}
    assert tasks["fg_ari"] == ("image-segmentation", "comet-zoo/shapes-procedural")
    assert tasks["mse"][0] == "image-to-image"
    assert card.text.count("| mse |") == 1                     # one mse on the card: the evaluation's
    assert "## Decomposition" in card.text and (artifact / "figures" / "0-decomposition.png").is_file()
    assert manifest.sha256_file(artifact / "model.safetensors") in card.text and "float16" in card.text
    bad = comet("push", str(model), "--as", "toy", "--version", "v2", "--eval", str(tmp_path / "missing.json"),
                "--hub", f"file://{tmp_path / 'hub'}", env=env)
    assert bad.returncode == 2 and "cannot read eval report" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_a_second_hub_cannot_take_over_a_bundled_name(tmp_path):
    """A hostile hub publishes clevr@v5: the bare name stops resolving (an error naming both
    hubs) instead of switching, the bundled model stays one qualified name away, and once the
    hub is removed its cached copy answers for nothing but its own qualified name."""
    hostile = tmp_path / "hostile"
    home = tmp_path / "home"
    mp = pytest.MonkeyPatch()
    mp.setenv("COMET_HOME", str(home))
    mp.setenv("COMET_CONFIG", str(tmp_path / "no-config.toml"))
    try:
        publish.push(make_model(tmp_path / "toy-model", seed=9), "clevr", "v5", hub=f"file://{hostile}",
                     card_source=make_card_source(tmp_path / "src", "clevr"))
        mp.setenv("COMET_HUB", "bundled")
        genuine = hub.resolve("clevr")
        mp.setenv("COMET_HUB", f"bundled,file://{hostile}")
        with pytest.raises(CometError, match=f"clevr is published by 2 hubs \\(bundled:clevr, file://{hostile}/clevr\\)"):
            hub.resolve("clevr")
        assert hub.resolve("bundled:clevr") == genuine
        taken = hub.resolve(f"file://{hostile}/clevr")                   # the hostile copy, by its own name
        assert taken.name == "v5" and taken.parent.parent.name != "bundled"
        refs = {e.ref: e.hub for e in hub.catalog() if e.name == "clevr"}
        assert refs == {"bundled:clevr": "bundled", f"file://{hostile}/clevr": f"file://{hostile}"}
        mp.setenv("COMET_HUB", "bundled")                               # the hub is removed again
        assert hub.resolve("clevr") == genuine                          # the cached v5 does not count
        assert hub.load_model("clevr").config.image_size != 16
        listed = {e.ref: e.newest for e in hub.catalog() if e.name == "clevr"}
        assert listed["clevr"] == genuine.name and listed[f"file://{hostile}/clevr"] == "v5"
        env = hub_env(home, f"bundled,file://{hostile}")
        out = comet("compose", "clevr:obj0", "-o", str(tmp_path / "x.png"), env=env)
        assert out.returncode == 2 and "published by 2 hubs" in out.stderr and not (tmp_path / "x.png").exists()
        assert len(out.stderr.strip().splitlines()) == 1
    finally:
        mp.undo()


def test_a_local_model_folder_is_a_reference(tmp_path, zoo):
    """`./runs/x/model:obj0` composes a model straight from `comet train` (no card: default
    concepts, a source image), and `comet card` / `comet eval` take the folder too."""
    import os

    import torch

    from comet_zoo.data.images import grid, save_png

    run = tmp_path / "runs" / "x"
    make_model(run / "model", seed=4)
    save_png(grid(torch.rand(1, 3, 16, 16), nrow=1, pad=0), tmp_path / "scene.png")
    env = hub_env(tmp_path / "home", f"file://{zoo}")
    result = subprocess.run([sys.executable, "-m", "comet_zoo.cli.main", "compose", "./runs/x/model:obj1@scene.png",
                             "toy:obj0", "-o", "out.png", "--steps", "2", "--device", "cpu"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.png").is_file()
    no_source = subprocess.run([sys.executable, "-m", "comet_zoo.cli.main", "compose", "./runs/x/model:obj1",
                                "-o", "o2.png"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert no_source.returncode == 2 and "give a source image" in no_source.stderr
    missing = comet("compose", f"{tmp_path}/nothere:obj0", "-o", str(tmp_path / "o3.png"), env=env)
    assert missing.returncode == 2 and "model folder not found" in missing.stderr
    assert os.path.basename(str(hub.resolve(str(run / "model")))) == "model"


def test_a_cache_edited_together_with_its_manifest_is_caught(home, zoo, tmp_path, monkeypatch):
    """Files and SHA256SUMS edited together still match each other, but not the manifest
    recorded at pull time: with the hub at hand the copy is pulled again, without it refused."""
    path = hub.resolve("toy@v1")
    genuine = (path / "model.safetensors").read_bytes()
    _flip(path)
    _rehash(path)
    manifest.verify(path)                                             # self-consistent, yet edited
    assert hub.resolve("toy@v1") == path and (path / "model.safetensors").read_bytes() == genuine
    copy = tmp_path / "gone-hub"
    shutil.copytree(zoo, copy)
    monkeypatch.setenv("COMET_HUB", f"file://{copy}")
    pulled = hub.resolve("toy@v2")
    shutil.rmtree(copy)                                               # the hub is gone: only the cache answers
    _flip(pulled)
    _rehash(pulled)
    with pytest.raises(CometError, match="edited after it was pulled"):
        hub.resolve(f"file://{copy}/toy@v2")


def test_pull_refuses_an_artifact_that_cannot_load_and_caches_nothing(home, zoo, tmp_path, monkeypatch):
    import json

    def break_config(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "width": "wide"}))
        _rehash(folder)
    bad = _damaged_hub(zoo, tmp_path, break_config)
    result = comet("pull", "toy@v1", env=hub_env(home, f"file://{bad}"))
    assert result.returncode == 1 and "cannot be loaded: model.width must be an integer" in result.stderr
    assert not any((home / "models").rglob("model.safetensors"))


def test_a_damaged_cache_is_named_and_rm_removes_it(home, zoo):
    path = hub.resolve("toy@v1")
    (path / "SHA256SUMS").unlink()
    assert hub.resolve("toy@v1") == path and (path / "SHA256SUMS").is_file()   # hub at hand: pulled again
    (path / "SHA256SUMS").unlink()
    with pytest.raises(CometError, match="toy: the cached copy from .* is damaged"):
        hub.locate("toy", backends=[_Gone(zoo)])                     # hub unreachable: named, not "unknown"
    assert hub.remove(f"file://{zoo}/toy") == [f"file://{zoo}/toy@v1"]
    assert not path.exists() and not (path.parent / "v1.pulled").exists()


class _Gone:
    """The zoo hub, unreachable: it lists nothing, but its cache folder is the zoo's."""

    def __init__(self, zoo: Path):
        real = open_hub(f"file://{zoo}")
        self.id, self.url = real.id, real.url

    def names(self):
        return []

    def versions(self, name):
        return []


def test_a_push_that_loses_a_race_is_a_clear_error(zoo, tmp_path, monkeypatch):
    import shutil as sh

    hub_dir = tmp_path / "race"
    target = hub_dir / "toy" / "v1"
    real_copytree = sh.copytree

    def copy_then_lose(src, dst, *args, **kwargs):  # the other push renames its copy into place meanwhile
        result = real_copytree(src, dst, *args, **kwargs)
        if Path(dst).parent == target.parent and not target.exists():
            target.mkdir()
            (target / "x").write_text("theirs")
        return result
    monkeypatch.setenv("COMET_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("comet_zoo.hub.backends.shutil.copytree", copy_then_lose)
    with pytest.raises(CometError, match="toy@v1 already exists"):
        publish.push(make_model(tmp_path / "m"), "toy", "v1", hub=f"file://{hub_dir}",
                     card_source=make_card_source(tmp_path / "s", "toy"))
    assert (target / "x").read_text() == "theirs" and sorted(p.name for p in target.parent.iterdir()) == ["v1"]


def test_a_push_to_an_unwritable_hub_is_one_line(tmp_path):
    env = hub_env(tmp_path / "home", "bundled")
    model = make_model(tmp_path / "m")
    out = comet("push", str(model), "--as", "toy", "--version", "v1", "--hub", "file:///proc/hub",
                "--card", str(make_card_source(tmp_path / "s", "toy")), env=env)
    assert out.returncode == 1 and "cannot publish to file:///proc/hub" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_a_cached_model_is_read_without_writing_to_comet_home(home, zoo, monkeypatch):
    """A read-only COMET_HOME (a shared cache) still serves what it holds: a verified
    snapshot is read without the lock file or any other write."""
    path = hub.resolve("toy@v1")
    hub.card("toy@v1")

    def no_writes(*args, **kwargs):
        raise AssertionError("wrote to COMET_HOME")
    monkeypatch.setattr(hub, "_lock", no_writes)
    monkeypatch.setattr(hub, "_record_hub", no_writes)
    monkeypatch.setattr(hub, "atomic_path", no_writes)
    assert hub.resolve("toy@v1") == path and hub.card(f"file://{zoo}/toy@v1").version == "v1"
    assert hub.load_model("toy@v1").config.num_components == 4
