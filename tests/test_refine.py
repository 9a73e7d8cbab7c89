"""Latent refinement (core/refine.py): Adam steps on the encoder's z bring the model's
reconstruction closer to the image, give one image the same z alone or in a batch, and
never enter training."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from comet_zoo.core.config import CometConfig
from comet_zoo.core.model import COMET
from comet_zoo.core.refine import refine_latents
from comet_zoo.errors import CometError
from comet_zoo.eval.evaluate import render_split
from comet_zoo.train.trainer import Trainer
from conftest import tiny_config, tiny_recipe

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model_and_images():
    torch.manual_seed(0)
    model = COMET(tiny_config()).eval()
    x = torch.from_numpy(render_split("shapes", 16, n=4, seed=5, options={"max_objects": 2}).images)
    return model, x


def _mse(model, z, x):
    """Reconstruction error per image [B] from one fixed x_0 (not one refinement saw)."""
    recon = model.generate(z, generator=torch.Generator().manual_seed(99)).detach()
    return F.mse_loss(recon, x, reduction="none").flatten(1).mean(1)


def test_refinement_lowers_the_reconstruction_error_of_every_image(model_and_images):
    model, x = model_and_images
    with torch.no_grad():
        z0 = model.infer(x)
    z20 = refine_latents(model, x, z0, steps=20, lr=0.05)
    before, after = _mse(model, z0, x), _mse(model, z20, x)
    assert (after < before).all(), (before, after)
    assert not torch.equal(z20, z0) and not z20.requires_grad
    assert not any(p.grad is not None for p in model.parameters())   # the weights are not touched


def test_one_image_gets_the_same_latents_alone_and_in_a_batch(model_and_images):
    model, x = model_and_images
    with torch.no_grad():
        z0 = model.infer(x)
    batch = refine_latents(model, x, z0, steps=5, lr=0.05)
    alone = refine_latents(model, x[2:3], z0[2:3], steps=5, lr=0.05)
    torch.testing.assert_close(alone[0], batch[2], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(refine_latents(model, x, z0, steps=5, lr=0.05), batch)   # deterministic
    assert refine_latents(model, x, z0, steps=0, lr=0.05) is z0


def test_infer_refines_by_the_config_unless_told_otherwise(model_and_images):
    model, x = model_and_images
    refined = COMET(CometConfig(**{**model.config.to_dict(), "refine_steps": 3, "refine_lr": 0.05}))
    refined.load_state_dict(model.state_dict())
    with torch.no_grad():
        encoder = model.infer(x)
        torch.testing.assert_close(refined.infer(x, refine=0), encoder)
        torch.testing.assert_close(refined.infer(x), refine_latents(model, x, encoder, steps=3, lr=0.05))
    assert CometConfig.from_dict(refined.config.to_dict()).refine_steps == 3          # config.json round trip


def test_bad_refinement_settings_are_one_line_errors(model_and_images):
    model, x = model_and_images
    with pytest.raises(CometError, match="refine_steps must be in 0..10000"):
        tiny_config(refine_steps=-1)
    with pytest.raises(CometError, match="refine_lr"):
        tiny_config(refine_lr=0.0)
    with pytest.raises(CometError, match="model.refine_steps must be an integer"):
        tiny_config(refine_steps=2.5)
    with pytest.raises(CometError, match="latent refinement needs"):
        refine_latents(model, x, model.infer(x), steps=-2, lr=0.1)


def test_training_uses_the_encoders_latents_whatever_the_config_says(tmp_path):
    plain, refined = tiny_recipe(total_steps=2), tiny_recipe(total_steps=2)
    refined.model.refine_steps = 50
    a, b = Trainer(plain, tmp_path / "a"), Trainer(refined, tmp_path / "b")
    assert [a.train_step() for _ in range(2)] == [b.train_step() for _ in range(2)]
    a.save_checkpoint()
    resumed = Trainer(refined, tmp_path / "a", resume=True)   # an inference setting does not change the run
    assert resumed.step == 2
    other = tiny_recipe(total_steps=2)
    other.model.steps += 1
    with pytest.raises(CometError, match="different recipe"):   # a training setting still does
        Trainer(other, tmp_path / "a", resume=True)
