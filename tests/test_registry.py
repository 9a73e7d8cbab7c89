"""Plugins from a real (fake-installed) distribution: discovered, used, failures contained."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from comet_zoo import registry
from comet_zoo.errors import CometError
from comet_zoo.train.trainer import Trainer
from conftest import tiny_recipe


def _install_fake_dist(root, name, entry_points, modules):
    """A `*.dist-info` folder with METADATA and entry_points.txt, as pip would leave it."""
    info = root / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))


ENCODER = """
    import torch
    from torch import nn

    class MeanColourEncoder(nn.Module):
        '''z_k from the mean colour of the image: a deliberately simple third-party encoder.'''
        def __init__(self, config):
            super().__init__()
            self.k, self.d = config.num_components, config.latent_dim
            self.proj = nn.Linear(3, self.k * self.d)
        def forward(self, x):
            return self.proj(x.mean(dim=(2, 3))).view(-1, self.k, self.d)
"""


@pytest.fixture
def plugin_path(tmp_path, monkeypatch):
    _install_fake_dist(
        tmp_path, "comet-extras",
        """
        [comet_zoo.encoders]
        mean-colour = extras_encoders:MeanColourEncoder
        conv = extras_encoders:MeanColourEncoder
        [comet_zoo.datasets]
        broken = extras_broken:Dataset
        """,
        {"extras_encoders": ENCODER, "extras_broken": "raise ImportError('needs the moon')\n"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for module in ("extras_encoders", "extras_broken"):
        sys.modules.pop(module, None)


def test_names_are_discovered_without_importing(plugin_path):
    names = {(p.name, p.dist) for p in registry.discover("encoders")}
    assert {("mean-colour", "comet-extras"), ("recurrent", "comet-zoo")} <= names
    assert "extras_encoders" not in sys.modules


def test_the_trainer_uses_a_third_party_encoder(plugin_path, tmp_path):
    recipe = tiny_recipe(total_steps=2)
    recipe.model.encoder = "mean-colour"
    trainer = Trainer(recipe, tmp_path / "run")
    assert type(trainer.model.encoder).__name__ == "MeanColourEncoder"
    before = trainer.model.encoder.proj.weight.detach().clone()
    trainer.run()
    assert not torch.equal(before, trainer.model.encoder.proj.weight)  # it was trained


def test_one_name_from_two_packages_needs_the_package(plugin_path):
    with pytest.raises(CometError, match="several packages.*comet-extras:conv.*comet-zoo:conv"):
        registry.find("encoders", "conv")
    assert registry.load("encoders", "comet-zoo:conv").__name__ == "ConvEncoder"


def test_a_failing_plugin_is_reported_and_the_others_work(plugin_path):
    rows = {p.name: state for p, state in registry.status("datasets")}
    assert rows["broken"] == "ImportError: needs the moon"
    assert rows["shapes"] == "ok"
    with pytest.raises(CometError, match="comet-extras:broken .*failed to load: ImportError: needs the moon"):
        registry.load("datasets", "broken")
    assert registry.load("datasets", "shapes").__name__ == "ShapesDataset"


def test_unknown_names_get_suggestions():
    with pytest.raises(CometError, match=r"unknown encoder 'recurent' \(did you mean recurrent\?\)"):
        registry.find("encoders", "recurent")


def test_comet_plugins_reports_the_broken_one_and_exits_0(plugin_path):
    env = {**os.environ, "PYTHONPATH": str(plugin_path), "COLUMNS": "200"}
    out = subprocess.run([sys.executable, "-m", "comet_zoo.cli.main", "plugins"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "needs the moon" in out.stdout and "mean-colour" in out.stdout and "shapes" in out.stdout


def test_every_built_in_plugin_satisfies_its_protocol(tmp_path):
    """The Protocols in the README are the ones our own plugins meet, checked by name; an
    object without `evaluate` (say) is not taken for an energy."""
    import numpy as np
    from PIL import Image

    from comet_zoo import registry
    from comet_zoo.core.config import CometConfig
    from comet_zoo.core.contracts import EncoderNet, EnergyNet
    from comet_zoo.data import Dataset

    config = CometConfig(image_size=16, num_components=2, latent_dim=8, width=8, num_blocks=2)
    contracts = {"encoders": (EncoderNet, (config,)), "energies": (EnergyNet, (config,)), "datasets": (Dataset, ())}
    for i in range(10):   # the `images` data set reads a collection: a folder of ten PNGs
        Image.fromarray(np.full((16, 16, 3), 20 * i, np.uint8)).save(tmp_path / f"{i}.png")
    options = {"images": {"source": str(tmp_path), "size": 16}, "mixture": {"sources": ["shapes"], "size": 16}}
    for group, (protocol, args) in contracts.items():
        ours = [p for p in registry.discover(group) if p.dist == "comet-zoo"]
        assert ours
        for plugin in ours:
            made = registry.load(group, plugin.name)(*args, **options.get(plugin.name, {}) if group == "datasets" else {})
            assert isinstance(made, protocol), plugin
    assert not isinstance(object(), EnergyNet) and not isinstance(config, Dataset)
