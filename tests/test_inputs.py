"""Hostile or mistyped inputs end in one clear CometError, before anything is allocated."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from comet_zoo.core.model import COMET
from comet_zoo.data import Scenes, check_scenes
from comet_zoo.data.images import load_image
from comet_zoo.errors import CometError, CometRuntimeError
from comet_zoo.train.recipe import Recipe
from conftest import tiny_config

BASE_MODEL = {"image_size": 16, "num_components": 2, "latent_dim": 4, "width": 8, "num_blocks": 2}


@pytest.mark.parametrize("section, key, value, message", [
    ("train", "lr", "0.001", "train.lr must be a number"),
    ("train", "lr", float("nan"), "train.lr must be a finite number"),
    ("model", "image_size", "16", "model.image_size must be an integer"),
    ("model", "steps", None, "model.steps must be an integer"),
    ("model", "pos_embed", 7, "model.pos_embed must be a list of true/false"),
    ("model", "width", 8.5, "model.width must be an integer"),
    ("model", "encoder", 3, "model.encoder must be a string"),
    ("train", "dataset_options", [1], "train.dataset_options must be an object"),
    ("train", "batch_size", True, "train.batch_size must be an integer"),
    ("model", "width", 100_000, "width in 4..1024"),                 # would allocate hundreds of GB
    ("model", "num_blocks", 1_000_000, "num_blocks in 1..8"),
    ("model", "num_components", 100_000, "num_components must be in 1..64"),
    ("model", "steps", 10**9, "steps must be in 1..1000"),
])
def test_wrong_types_and_absurd_sizes_are_one_line_errors(section, key, value, message):
    data = {"model": dict(BASE_MODEL), "train": {}}
    data[section][key] = value
    with pytest.raises(CometError, match=message.replace("(", r"\(").replace(".", r"\.")):
        Recipe.from_dict(data)


def test_the_cli_reports_a_mistyped_recipe_in_one_line(tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"model": {**BASE_MODEL, "width": "8"}, "train": {}}))
    out = subprocess.run([sys.executable, "-m", "comet_zoo.cli.main", "train", str(recipe), "--out",
                          str(tmp_path / "run")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "model.width must be an integer" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_nan_images_from_a_plugin_are_refused():
    images = np.full((2, 3, 8, 8), 0.5, np.float32)
    images[1, 0, 3, 3] = np.nan
    with pytest.raises(CometError, match="dataset evil: images contain NaN"):
        check_scenes(Scenes(images), "evil")


def test_nan_weights_are_refused(tmp_path):
    COMET(tiny_config()).save_pretrained(tmp_path / "m")
    path = tmp_path / "m" / "model.safetensors"
    state = load_file(path)
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = torch.full_like(state[key], float("nan"))
    save_file(state, path)
    with pytest.raises(CometRuntimeError, match=f"{key} holds NaN"):
        COMET.load(tmp_path / "m")


def test_a_decompression_bomb_is_refused(tmp_path, monkeypatch):
    Image.new("RGB", (64, 64)).save(tmp_path / "bomb.png")           # 4096 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)              # > 2x the limit: PIL raises
    with pytest.raises(CometError, match="too many pixels"):
        load_image(tmp_path / "bomb.png", 16)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3000)              # between 1x and 2x: PIL only warns
    with pytest.raises(CometError, match="too many pixels"):
        load_image(tmp_path / "bomb.png", 16)
