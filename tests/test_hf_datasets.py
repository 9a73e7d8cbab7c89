"""Hugging Face round trip: typed features, exact pixels / masks / factors, cache reuse, torch format."""

from __future__ import annotations

import json

import numpy as np
import pytest

datasets = pytest.importorskip("datasets")

from comet_zoo.data import load_dataset  # noqa: E402
from comet_zoo.data.hf_datasets import to_hf, to_images  # noqa: E402


def test_round_trip_matches_the_plugin_exactly(tmp_path):
    ds = to_hf("clevr-lighting", "test", 20, seed=3, cache_dir=str(tmp_path), size=32)
    ref = load_dataset("clevr-lighting", "test", 20, seed=3, size=32)
    f = ds.features
    assert isinstance(f["image"], datasets.Image)
    assert isinstance(f["mask"], datasets.Array2D) and f["mask"].shape == (32, 32)
    assert [c for c in ds.column_names if c.startswith("light_")] == ref.factor_names
    assert all(f[c].dtype == "float32" for c in ref.factor_names)
    assert len(ds) == 20
    for i in (0, 7, 19):
        row = ds[i]
        image = np.asarray(row["image"].convert("RGB"))                       # [H, W, 3] uint8
        expect = (ref.images[i].transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)
        np.testing.assert_array_equal(image, expect)                          # PNG is lossless
        np.testing.assert_array_equal(np.asarray(row["mask"]), ref.masks[i])
        np.testing.assert_allclose([row[c] for c in ref.factor_names], ref.factors[i], rtol=1e-6)
        assert json.loads(row["scene"]) == json.loads(json.dumps(ref.descriptions[i]))


def test_cached_by_fingerprint_and_torch_ready(tmp_path):
    a = to_hf("tetrominoes", "train", 30, seed=1, cache_dir=str(tmp_path))
    b = to_hf("tetrominoes", "train", 30, seed=1, cache_dir=str(tmp_path))
    c = to_hf("tetrominoes", "train", 30, seed=2, cache_dir=str(tmp_path))
    assert a.cache_files and a.cache_files == b.cache_files                  # reused, not rendered again
    assert c.cache_files != a.cache_files
    batch = a.with_format("torch")[:8]
    x = to_images(batch)
    assert tuple(x.shape) == (8, 3, 35, 35) and x.dtype.__str__() == "torch.float32"
    assert 0 <= float(x.min()) and float(x.max()) <= 1
    assert tuple(batch["mask"].shape) == (8, 35, 35) and int(batch["mask"].max()) == 3
    ref = load_dataset("tetrominoes", "train", 8, seed=1)
    np.testing.assert_allclose(x.numpy(), ref.images, atol=0.5 / 255 + 1e-6)


def test_factor_only_dataset_has_no_mask_column(tmp_path):
    ds = to_hf("falcor", "train", 6, seed=0, cache_dir=str(tmp_path), size=16, levels=2)
    assert "mask" not in ds.column_names
    assert ds.column_names[1:8] == ["light_intensity", "light_x", "light_y", "light_z", "camera_x", "camera_y", "camera_z"]
    values = np.array(ds.with_format("numpy")["light_x"])
    assert set(np.round(values, 4)) <= {-1.5, 2.5}
