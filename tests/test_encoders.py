"""The built-in encoders: shapes, determinism, and what each component may read."""

from __future__ import annotations

import pytest
import torch

from comet_zoo import registry
from comet_zoo.core.model import COMET
from conftest import tiny_config


@pytest.mark.parametrize("name", ["conv", "recurrent", "slot"])
def test_each_encoder_is_a_plugin_giving_deterministic_latents(name):
    assert registry.find("encoders", name).dist == "comet-zoo"
    torch.manual_seed(0)
    model = COMET(tiny_config(encoder=name, num_components=3, pos_embed=[False, True, True]))
    x = torch.rand(2, 3, 16, 16)
    z = model.infer(x)
    assert z.shape == (2, 3, 4)
    assert torch.equal(z, model.infer(x))                        # no noise: the composer relies on it
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(model.infer(x)[:, 1].sum(), x)
    assert grad.abs().sum() > 0                                  # an object latent reads the image


def test_slot_components_compete_and_global_ones_do_not():
    torch.manual_seed(0)
    model = COMET(tiny_config(encoder="slot", num_components=3, pos_embed=[False, True, True]))
    encoder = model.encoder
    x = torch.rand(2, 3, 16, 16)
    before = encoder(x)
    with torch.no_grad():
        encoder.start[0] += 1.0                                  # move the first slot's start
    after = encoder(x)
    assert torch.equal(before[:, 0], after[:, 0])                # the global component does not attend
    # Slots share the cells: moving one slot's start changes what the other one wins.
    assert not torch.allclose(before[:, 2], after[:, 2])
