"""β-VAE and Slot Attention: trained by the Trainer from a recipe's model.kind, saved and
loaded like COMET (safetensors + config.json), resumed exactly, and refused clearly."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from comet_zoo.architectures import build_model, config_from_dict, kind_of, load_model
from comet_zoo.errors import CometError
from comet_zoo.train.recipe import Recipe
from comet_zoo.train.trainer import Trainer

MODELS = {
    "beta-vae": {"kind": "beta-vae", "image_size": 16, "latent_dim": 4, "width": 16, "hidden": 32, "beta": 1.0},
    "slot-attention": {"kind": "slot-attention", "image_size": 16, "num_components": 3, "latent_dim": 16,
                       "width": 16, "iterations": 2},
}


pytestmark = pytest.mark.usefixtures("one_thread")


def recipe(kind: str, **train) -> Recipe:
    base = dict(dataset="shapes", dataset_options={"max_objects": 2}, train_size=256, batch_size=16,
                lr=3e-3, total_steps=60, checkpoint_every=60, log_every=1, seed=5)
    base.update(train)
    return Recipe.from_dict({"model": MODELS[kind], "train": base})


@pytest.mark.parametrize("kind", list(MODELS))
def test_baseline_trains_and_round_trips(tmp_path, kind):
    trainer = Trainer(recipe(kind), tmp_path)
    assert kind_of(trainer.model) == kind
    losses = []
    trainer.run(on_step=lambda s: losses.append(s.loss))
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:5]), (losses[:5], losses[-10:])

    folder = trainer.export()
    assert json.loads((folder / "config.json").read_text())["kind"] == kind
    assert not list(folder.glob("*.bin")) and (folder / "model.safetensors").is_file()
    loaded = load_model(folder)
    assert type(loaded) is type(trainer.model)
    x = torch.from_numpy(trainer.preview)
    trainer.model.eval()
    a = trainer.model.reconstruct(x, generator=torch.Generator().manual_seed(0))
    b = loaded.reconstruct(x, generator=torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b)
    z = loaded.infer(x, torch.Generator().manual_seed(0))
    assert z.shape == (len(x), loaded.config.num_components, loaded.config.latent_dim)


def test_slot_attention_segments_into_its_slots():
    model = build_model(config_from_dict(MODELS["slot-attention"]))
    masks = model.segment(torch.rand(2, 3, 16, 16), torch.Generator().manual_seed(0))
    assert masks.shape == (2, 16, 16) and masks.dtype == torch.int64
    assert 0 <= masks.min() and masks.max() < 3
    # Given the slots a reconstruction came from, it segments that reconstruction.
    slots = model.infer(torch.rand(2, 3, 16, 16), torch.Generator().manual_seed(1))
    _, alpha = model.decode(slots)
    assert torch.equal(model.segment(torch.zeros(2, 3, 16, 16), slots=slots), alpha[:, :, 0].argmax(1))


def test_baseline_resume_reaches_the_same_weights(tmp_path):
    # β-VAE samples its noise from the global RNG, which the checkpoint stores.
    straight = Trainer(recipe("beta-vae", total_steps=4, checkpoint_every=2), tmp_path / "a")
    straight.run()
    first = Trainer(recipe("beta-vae", total_steps=4, checkpoint_every=2), tmp_path / "b")
    first.run(until=2)
    resumed = Trainer(recipe("beta-vae", total_steps=4, checkpoint_every=2), tmp_path / "b", resume=True)
    assert resumed.step == 2
    resumed.run()
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name


def test_recipes_round_trip_and_bad_configs_are_refused(tmp_path):
    r = recipe("slot-attention")
    again = Recipe.from_dict(json.loads(json.dumps(r.to_dict())))
    assert again.model == r.model and again.to_dict()["model"]["kind"] == "slot-attention"
    # COMET recipes keep no kind key: their run identity and config.json are unchanged.
    assert "kind" not in Recipe.from_dict({"model": {"kind": "comet", "image_size": 16}}).to_dict()["model"]
    with pytest.raises(CometError, match="unknown model kind 'vae'"):
        Recipe.from_dict({"model": {"kind": "vae"}})
    with pytest.raises(CometError, match="unknown beta-vae config keys: slots"):
        Recipe.from_dict({"model": {"kind": "beta-vae", "slots": 3}})
    with pytest.raises(CometError, match="multiple of 4"):
        config_from_dict({"kind": "slot-attention", "image_size": 18})
    # Weights of another shape are refused by the strict loader, in one line.
    folder = build_model(config_from_dict(MODELS["beta-vae"])).save_pretrained(tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "latent_dim": 5}))
    with pytest.raises(CometError, match="model.safetensors"):
        load_model(folder)


def test_comet_train_and_eval_take_a_baseline_recipe(tmp_path):
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(recipe("slot-attention", total_steps=3, checkpoint_every=3).to_dict()))
    env_cmd = [sys.executable, "-m", "comet_zoo.cli.main"]
    train = subprocess.run([*env_cmd, "train", str(path), "--out", str(tmp_path / "run"), "--device", "cpu"],
                           capture_output=True, text=True, timeout=300)
    assert train.returncode == 0, train.stderr
    report = tmp_path / "report.json"
    out = subprocess.run([*env_cmd, "eval", str(tmp_path / "run" / "model"), "--dataset", "shapes", "--n", "8",
                          "--json", str(report), "--device", "cpu"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "stripes baseline" in out.stdout and "k-means colour baseline" in out.stdout
    data = json.loads(report.read_text())
    assert data["model"]["kind"] == "slot-attention"
    assert set(data["segmentation"]) == {"k", "readout", "model", "stripes", "grid", "kmeans_colour", "components"}
    assert data["segmentation"]["readout"] is None          # it segments by itself: no gradient read-out
    assert len(data["segmentation"]["components"]["binds"]) == data["model"]["num_components"]   # per slot
