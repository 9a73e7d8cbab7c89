"""Latents without inference: stored in the artifact for its card's exemplars, cached in
COMET_HOME for the user's images (comet_zoo/hub/latents.py)."""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest
import torch
from safetensors import safe_open

from comet_zoo.composer import Composer
from comet_zoo.core import model as model_module
from comet_zoo.core.model import COMET
from comet_zoo.hub import latents as latents_module
from comet_zoo.hub.latents import LATENTS_FILE
from comet_zoo.hub.loaded import forget
from hub_support import make_card_source, make_model

REFINE = 3


@pytest.fixture(scope="module")
def hub_dir(tmp_path_factory):
    """toy@v1: a tiny model that refines its latents (refine_steps 3), pushed to a file:// hub."""
    from comet_zoo import publish

    root = tmp_path_factory.mktemp("latents")
    model_dir = make_model(root / "model", components=2)
    config = json.loads((model_dir / "config.json").read_text())
    (model_dir / "config.json").write_text(json.dumps({**config, "refine_steps": REFINE}))
    mp = pytest.MonkeyPatch()
    mp.setenv("COMET_HOME", str(root / "publisher-home"))
    try:
        publish.push(model_dir, "toy", "v1", hub=f"file://{root / 'hub'}", card_source=make_card_source(root / "src", "toy", 2))
    finally:
        mp.undo()
    return root / "hub"


@pytest.fixture
def env(hub_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("COMET_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COMET_HUB", f"file://{hub_dir}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    forget()
    yield tmp_path
    forget()


@pytest.fixture
def counted(monkeypatch):
    """How often the encoder ran and how many refinement steps were taken, in this test."""
    calls = {"encoder": 0, "refine": 0}
    infer, refine = COMET.infer, model_module.refine_latents

    def counting_infer(self, x, refine=None):
        calls["encoder"] += 1
        return infer(self, x, refine)

    def counting_refine(model, x, z, steps, lr, seed=0):
        calls["refine"] += steps
        return refine(model, x, z, steps, lr, seed)

    monkeypatch.setattr(COMET, "infer", counting_infer)
    monkeypatch.setattr(model_module, "refine_latents", counting_refine)
    return calls


def _stored(hub_dir):
    return hub_dir / "toy" / "v1" / LATENTS_FILE


def test_the_artifact_stores_each_exemplar_latent_with_what_made_it(hub_dir):
    path = _stored(hub_dir)
    assert LATENTS_FILE in (hub_dir / "toy" / "v1" / "SHA256SUMS").read_text()   # checked like every file
    with safe_open(str(path), framework="pt") as f:
        meta, keys = f.metadata(), sorted(f.keys())
        shapes = {k: tuple(f.get_tensor(k).shape) for k in keys}
    assert keys == [f"exemplars/{i}.png" for i in range(4)]
    assert set(shapes.values()) == {(2, 8)}                                         # [K, D]
    assert meta["refine_steps"] == str(REFINE) and meta["refine_lr"] == "0.01"
    assert len(meta["weights_sha256"]) == 64 and len(meta["sha256:exemplars/0.png"]) == 64


def test_a_card_exemplar_compose_runs_no_encoder_and_no_refinement(env, counted):
    Composer.from_specs(["toy:obj0", "toy:obj1@1", "toy:0@3"])
    assert counted == {"encoder": 0, "refine": 0}


def test_stored_latents_draw_the_picture_inference_draws(env, hub_dir, counted):
    from comet_zoo import compose

    stored = compose(["toy:obj0", "toy:obj1@1"], seed=3)
    assert counted["encoder"] == 0
    # The same artifact without its stored latents (as an older artifact): inferred, refined.
    old = env / "old-hub"
    shutil.copytree(hub_dir, old)
    (old / "toy" / "v1" / LATENTS_FILE).unlink()
    sums = old / "toy" / "v1" / "SHA256SUMS"
    sums.write_text("".join(l for l in sums.read_text().splitlines(True) if LATENTS_FILE not in l))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COMET_HUB", f"file://{old}")
        mp.setenv("COMET_HOME", str(env / "home-old"))
        forget()
        inferred = compose(["toy:obj0", "toy:obj1@1"], seed=3)
    assert counted == {"encoder": 2, "refine": 2 * REFINE}
    assert np.array_equal(np.asarray(stored), np.asarray(inferred))                # pixel-identical


def test_a_stored_latent_of_other_weights_or_settings_is_not_used(env, hub_dir, counted):
    from comet_zoo import hub
    from comet_zoo.hub.latents import stored_latent

    snapshot = hub.resolve("toy")
    model = COMET.load(snapshot)
    assert stored_latent(model, snapshot, "exemplars/0.png") is not None
    model.config.refine_steps = REFINE + 1                                          # other settings
    assert stored_latent(model, snapshot, "exemplars/0.png") is None
    model.config.refine_steps = REFINE
    other = COMET.load(snapshot)
    with torch.no_grad():
        next(other.parameters()).add_(1.0)                                          # other weights
    assert stored_latent(other, snapshot, "exemplars/0.png") is None
    assert stored_latent(model, snapshot, "exemplars/9.png") is None               # not an exemplar


def test_a_users_image_is_inferred_once_then_read_from_the_cache(env, hub_dir, counted):
    image = env / "mine.png"
    shutil.copyfile(hub_dir / "toy" / "v1" / "exemplars" / "2.png", image)
    first = Composer.from_specs([f"toy:obj0@{image}"]).terms[0].latent
    assert counted == {"encoder": 1, "refine": REFINE}
    forget()                                                                         # a new process, in effect
    second = Composer.from_specs([f"toy:obj0@{image}"]).terms[0].latent
    assert counted == {"encoder": 1, "refine": REFINE}
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    assert len(list((env / "home" / "latents").glob("*.safetensors"))) == 1


def test_the_cache_is_bounded_and_shrugs_off_damage(env, hub_dir, counted, monkeypatch):
    from comet_zoo.data.images import load_image
    from comet_zoo.hub.latents import cache_dir, cached_or_inferred

    model = COMET.load(hub_dir / "toy" / "v1")
    images = [load_image(hub_dir / "toy" / "v1" / "exemplars" / f"{i}.png", 16) for i in range(4)]
    cached_or_inferred(model, images[0])
    entry = next(cache_dir().glob("*.safetensors")).stat().st_size
    monkeypatch.setenv("COMET_LATENT_CACHE_MB", str(2.5 * entry / 2**20))          # room for two entries
    for x in images[1:]:
        cached_or_inferred(model, x)
    assert len(list(cache_dir().glob("*.safetensors"))) == 2
    for path in cache_dir().glob("*.safetensors"):
        path.write_bytes(b"not a safetensors file")                                 # damaged entries
    before = counted["encoder"]
    z = cached_or_inferred(model, images[3])                                        # recomputed, no error
    assert counted["encoder"] == before + 1 and z.shape == (2, 8)


def test_concurrent_writers_of_one_entry_leave_one_good_file(env, hub_dir):
    from comet_zoo.data.images import load_image
    from comet_zoo.hub.latents import cache_dir, cached_or_inferred

    model = COMET.load(hub_dir / "toy" / "v1")
    x = load_image(hub_dir / "toy" / "v1" / "exemplars" / "1.png", 16)
    results, errors = [], []

    def work():
        try:
            results.append(cached_or_inferred(model, x))
        except Exception as exc:   # noqa: BLE001 - any failure fails the test below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(torch.equal(r, results[0]) for r in results)
    files = list(cache_dir().iterdir())
    assert len(files) == 1 and files[0].suffix == ".safetensors"                   # no temporary file left


def test_a_read_only_home_still_composes(env, hub_dir, counted, monkeypatch):
    image = env / "mine.png"
    shutil.copyfile(hub_dir / "toy" / "v1" / "exemplars" / "2.png", image)
    Composer.from_specs(["toy:obj0"])                                               # pulls the model
    (env / "home" / "latents").write_text("a file where the cache folder would be")   # unwritable, even for root
    composer = Composer.from_specs([f"toy:obj0@{image}"])
    assert composer.terms[0].latent.shape == (8,) and counted["encoder"] == 1


def test_models_are_loaded_once_per_process(env, monkeypatch):
    Composer.from_specs(["toy:obj0"])                                               # pulls and loads
    loads = []
    load = COMET.load.__func__
    monkeypatch.setattr(COMET, "load", classmethod(lambda cls, d, device="cpu": loads.append(d) or load(cls, d, device)))
    Composer.from_specs(["toy:obj0"])
    Composer.from_specs(["toy:obj1@2"])
    assert loads == []
