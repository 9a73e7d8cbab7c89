"""Shared fixtures: tiny models and recipes that keep the suite fast on 2 cores."""

from __future__ import annotations

import pytest
import torch


def tiny_config(**overrides):
    from comet_zoo.core.config import CometConfig

    base = dict(image_size=16, num_components=2, latent_dim=4, width=8, num_blocks=2,
                encoder="conv", pos_embed=[True, False], steps=3, step_size=10.0)
    base.update(overrides)
    return CometConfig(**base)


def tiny_recipe(**train_overrides):
    from comet_zoo.train.recipe import Recipe, TrainConfig

    train = dict(dataset="shapes", dataset_options={"max_objects": 2}, train_size=256, batch_size=8,
                 total_steps=6, checkpoint_every=3, log_every=2, seed=3)
    train.update(train_overrides)
    return Recipe(tiny_config(), TrainConfig(**train))


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


@pytest.fixture
def one_thread():
    """One torch thread: on 2 shared cores, oversubscribed OpenMP threads spin for seconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True, scope="session")
def _isolated_comet_home(tmp_path_factory):
    """No test reads or writes the user's cache or config: a fresh COMET_HOME for the session
    (tests that need their own set it again)."""
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("comet-home")
    mp.setenv("COMET_HOME", str(home))
    mp.setenv("COMET_CONFIG", str(home / "no-config.toml"))
    yield
    mp.undo()
