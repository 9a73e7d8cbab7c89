"""Scene datasets: determinism, disjoint splits, masks against pixels, factors, bad input."""

from __future__ import annotations

import copy
import hashlib

import numpy as np
import pytest

from comet_zoo.data import load_dataset
from comet_zoo.errors import CometError
from comet_zoo.plugins.clevr import ClevrDataset, ClevrLightingDataset, ClevrToyDataset
from comet_zoo.plugins.falcor import FalcorDataset
from comet_zoo.plugins.tetrominoes import TetrominoesDataset

SCENE_SETS = ["clevr", "clevr-lighting", "clevr-toy", "tetrominoes", "falcor"]


def _digests(images):
    return {hashlib.sha1(im.tobytes()).hexdigest() for im in images}


@pytest.mark.parametrize("name", SCENE_SETS)
def test_deterministic_prefix_stable_and_seeded(name):
    a = load_dataset(name, "train", 12, seed=5)
    b = load_dataset(name, "train", 12, seed=5)
    np.testing.assert_array_equal(a.images, b.images)
    short = load_dataset(name, "train", 5, seed=5)            # n scenes are a prefix of n + k
    np.testing.assert_array_equal(short.images, a.images[:5])
    other = load_dataset(name, "train", 12, seed=6)
    assert not np.array_equal(other.images, a.images)
    assert a.images.dtype == np.float32 and 0 <= a.images.min() and a.images.max() <= 1
    assert a.descriptions == b.descriptions and len(a.descriptions) == 12


@pytest.mark.parametrize("name", ["clevr", "tetrominoes", "falcor"])
def test_train_and_test_never_share_a_scene(name):
    n = {"clevr": 400, "tetrominoes": 1500, "falcor": 600}[name]
    train = load_dataset(name, "train", n, seed=0, size=16)
    test = load_dataset(name, "test", n // 4, seed=0, size=16)
    assert not _digests(train.images) & _digests(test.images)
    if name == "tetrominoes":   # discrete scenes: the split is decided by content, so any seed agrees
        other = load_dataset(name, "train", n, seed=9, size=16)
        assert all(TetrominoesDataset.split_of(d) == "train" for d in other.descriptions)
        assert not _digests(other.images) & _digests(test.images)
    if name == "falcor":
        ds = FalcorDataset()
        tr = {d["index"] for d in train.descriptions}
        te = {d["index"] for d in test.descriptions}
        assert not tr & te and len(te) > 10
        assert set(ds.split_of(np.array(sorted(te)))) == {"test"}


def test_clevr_scene_vocabulary_counts_and_positions():
    ds = ClevrDataset(max_objects=10, min_objects=3)
    scenes = ds.generate("train", 200, seed=1)
    counts = [len(d["objects"]) for d in scenes.descriptions]
    assert min(counts) >= 3 and max(counts) <= 10 and len(set(counts)) >= 6
    objects = [o for d in scenes.descriptions for o in d["objects"]]
    assert {o["shape"] for o in objects} == {"cube", "sphere", "cylinder"}
    assert {o["size"] for o in objects} == {"large", "small"}
    assert {o["material"] for o in objects} == {"rubber", "metal"}
    assert {o["colour"] for o in objects} == {"gray", "red", "blue", "green", "brown", "purple", "cyan", "yellow"}
    red = next(o for o in objects if o["colour"] == "red")
    assert np.allclose(np.array(red["rgb"]) * 255, [173, 35, 35])
    for d in scenes.descriptions:   # objects rest on the ground and never interpenetrate
        xy = np.array([o["position"][:2] for o in d["objects"]])
        r = np.array([max(o["extent"][:2]) * (2 ** 0.5 if o["shape"] == "cube" else 1) for o in d["objects"]])
        gap = np.linalg.norm(xy[:, None] - xy[None], axis=-1) - r[:, None] - r[None]
        assert (gap + np.eye(len(r)) * 9 > -1e-6).all()
        assert all(abs(o["position"][2] - o["extent"][2]) < 1e-6 for o in d["objects"])
    assert scenes.masks.max() <= 10 and scenes.factors is None


def _saturation(rgb):
    return rgb.max(-1) - rgb.min(-1)


@pytest.mark.parametrize("cls", [ClevrDataset, ClevrToyDataset])
def test_masks_match_pixels_and_objects(cls):
    ds = cls(size=48)
    scenes = ds.generate("train", 24, seed=2)
    pix = scenes.images.transpose(0, 2, 3, 1)                                 # [N, H, W, 3]
    for i, d in enumerate(scenes.descriptions):
        labels = scenes.masks[i]
        assert labels.min() >= 0 and labels.max() <= len(d["objects"])
        onehot = labels[None] == np.arange(len(d["objects"]) + 1)[:, None, None]
        assert (onehot.sum(0) == 1).all()                                    # each pixel in exactly one mask
        # background is the grey ground: nearly unsaturated
        assert np.median(_saturation(pix[i][labels == 0])) < 0.08
        for j, obj in enumerate(d["objects"]):
            region = pix[i][labels == j + 1]
            if len(region) < 4 or _saturation(np.array(obj["rgb"])) < 0.3:
                continue
            # a saturated object's pixels have its hue: their chroma points the albedo's way
            assert np.median(_saturation(region)) > 0.1
            seen, albedo = np.median(region, 0), np.array(obj["rgb"])
            seen, albedo = seen - seen.mean(), albedo - albedo.mean()
            assert seen @ albedo / np.linalg.norm(seen) / np.linalg.norm(albedo) > 0.9


def test_occlusion_nearer_object_wins_whatever_the_order():
    ds = ClevrDataset(size=64)
    camera = {"position": [8.0, 0.0, 1.0], "look_at": [0.0, 0.0, 0.6], "fov": 30.0}
    light = {"type": "directional", "azimuth": 200.0, "elevation": 50.0, "intensity": 0.8, "ambient": 0.5}
    far = {"shape": "sphere", "colour": "red", "material": "rubber", "position": [0.0, 0.0, 0.7], "extent": [0.7] * 3}
    near = {"shape": "cube", "colour": "blue", "material": "rubber", "position": [3.0, 0.0, 0.3], "extent": [0.3] * 3}
    a = ds.render([{"camera": camera, "light": light, "objects": [far, near]}])
    b = ds.render([{"camera": camera, "light": light, "objects": [near, far]}])
    ma, mb = a.masks[0], b.masks[0]
    assert ma[40, 32] == 2 and mb[40, 32] == 1                               # the cube covers the sphere's foot
    assert (ma == 1).sum() > 100 and (ma == 2).sum() > 50
    np.testing.assert_array_equal((ma == 1), (mb == 2))                       # same geometry, labels swapped
    np.testing.assert_allclose(a.images, b.images, atol=1e-5)
    blue = a.images[0, :, 40, 32]
    assert blue[2] > blue[0] and blue[2] > blue[1]
    alone = ds.render([{"camera": camera, "light": light, "objects": [far]}])
    hidden = (alone.masks[0] == 1) & (ma != 1)
    assert hidden.sum() > 20 and (ma[hidden] == 2).all()                     # only the nearer object hides it


def test_occluded_pixels_belong_to_another_object_in_random_scenes():
    ds = ClevrDataset(size=48, min_objects=6, max_objects=8)
    for d, full in zip(ds.describe("test", 6, seed=3), ds.generate("test", 6, seed=3).masks):
        for j in range(len(d["objects"])):
            solo = ds.render([{**d, "objects": [d["objects"][j]]}]).masks[0] == 1
            mine = full == j + 1
            assert not (mine & ~solo).any()                                  # occlusion only removes pixels
            assert (full[solo & ~mine] > 0).all()                            # ... and only other objects do


def test_shadows_darken_the_ground_where_the_light_is_blocked():
    ds = ClevrDataset(size=64)
    d = {"camera": {"position": [0.0, -10.0, 6.0], "look_at": [0.0, 0.0, 0.0], "fov": 40.0},
         "light": {"type": "directional", "azimuth": 0.0, "elevation": 45.0, "intensity": 0.8, "ambient": 0.4},
         "objects": [{"shape": "cylinder", "colour": "gray", "position": [0.0, 0.0, 0.7], "extent": [0.5, 0.5, 0.7]}]}
    lit = ds.render([{**d, "objects": []}]).images[0]
    shaded = ds.render([d])
    changed = np.abs(shaded.images[0] - lit).max(0) > 0.05                   # [H, W]
    shadow = changed & (shaded.masks[0] == 0)
    assert shadow.sum() > 30                                                 # a cast shadow on the ground
    assert (shaded.images[0][:, shadow] < lit[:, shadow]).all()               # ... that is darker
    cols = np.nonzero(shadow)[1].mean(), np.nonzero(shaded.masks[0] == 1)[1].mean()
    assert cols[0] < cols[1]                                                 # light from +x: shadow falls to -x


def test_metal_has_a_specular_highlight_rubber_does_not():
    ds = ClevrDataset(size=64)
    base = {"camera": {"position": [0.0, -6.0, 3.0], "look_at": [0.0, 0.0, 0.7], "fov": 30.0},
            "light": {"type": "directional", "azimuth": -90.0, "elevation": 40.0, "intensity": 0.8, "ambient": 0.4}}
    ball = {"shape": "sphere", "colour": "blue", "position": [0.0, 0.0, 0.7], "extent": [0.7] * 3}
    peak = {}
    for material in ("rubber", "metal"):
        s = ds.render([{**base, "objects": [{**ball, "material": material}]}])
        peak[material] = s.images[0][:, s.masks[0] == 1].min(0).max()         # brightest pixel's weakest channel
    assert peak["metal"] > 0.8 > peak["rubber"]


def test_recombination_objects_of_a_under_the_light_of_b():
    ds = ClevrLightingDataset(size=40)
    a, b = ds.describe("test", 2, seed=4)
    mixed = ds.render([{**a, "light": b["light"]}])
    ra, rb = ds.render([a]), ds.render([b])
    np.testing.assert_array_equal(mixed.masks[0], ra.masks[0])                # same objects, same camera
    np.testing.assert_allclose(mixed.factors[0], rb.factors[0])              # b's lighting factors
    assert np.abs(mixed.images[0] - ra.images[0]).mean() > 0.02
    # a description survives a round trip through JSON-like copies unchanged
    np.testing.assert_array_equal(ds.render([copy.deepcopy(a)]).images, ra.images)


def test_clevr_toy_objects_recombine_with_clevr_objects():
    clevr, toy = ClevrDataset(size=40), ClevrToyDataset(size=40)
    a, t = clevr.describe("train", 1, seed=7)[0], toy.describe("train", 1, seed=7)[0]
    mixed = clevr.render([{**a, "objects": a["objects"][:2] + t["objects"][:2]}])
    assert {o["shape"] for o in t["objects"]} <= {"cone", "capsule", "ring"}
    assert set(np.unique(mixed.masks[0])) - {0} <= {1, 2, 3, 4} and (mixed.masks[0] > 2).any()


def test_clevr_lighting_factors_in_range_and_visible():
    ds = ClevrLightingDataset(size=32)
    scenes = ds.generate("train", 300, seed=0)
    assert scenes.factor_names == ["light_azimuth", "light_elevation", "light_intensity", "light_hue"]
    for j, name in enumerate(scenes.factor_names):
        lo, hi = ds.ranges[name]
        col = scenes.factors[:, j]
        assert lo <= col.min() and col.max() <= hi and col.max() - col.min() > 0.8 * (hi - lo)
    brightness = scenes.images.mean((1, 2, 3))
    assert np.corrcoef(brightness, scenes.factors[:, 2])[0, 1] > 0.6         # intensity shows in the pixels


def test_falcor_factors_levels_and_factorial_grid():
    ds = FalcorDataset(size=24, levels=2, factorial=True)
    grid = ds.generate("train", 128, seed=0)
    assert grid.masks is None and grid.factors.shape == (128, 7)
    levels = grid.factors.reshape([2] * 7 + [7])                              # C order: index by level
    for j, (lo, hi) in enumerate([(0.4, 1.2), (-1.5, 2.5), (-2.5, 0.5), (2.5, 4.5), (-1.5, 1.5), (-8, -6), (1.5, 3.5)]):
        first = np.take(levels[..., j], 0, axis=j)
        last = np.take(levels[..., j], 1, axis=j)
        assert np.allclose(first, lo) and np.allclose(last, hi)
    assert len(_digests(grid.images)) == 128                                 # every factor changes the image
    with pytest.raises(CometError, match="factorial"):
        ds.generate("test", 4, seed=0)
    with pytest.raises(CometError, match="128"):
        ds.generate("train", 129, seed=0)
    sampled = FalcorDataset(size=24, levels=3).generate("train", 200, seed=1)
    for j in range(7):
        assert len(np.unique(sampled.factors[:, j])) == 3


def test_antialias_smooths_edges_and_keeps_masks():
    sharp = ClevrDataset(size=32).generate("train", 20, seed=0)
    smooth = ClevrDataset(size=32, antialias=2).generate("train", 20, seed=0)
    assert smooth.descriptions == sharp.descriptions
    assert (smooth.masks == sharp.masks).mean() > 0.97                     # majority label ≈ centre label
    tv = [np.abs(np.diff(s.images, axis=-1)).mean() for s in (sharp, smooth)]
    assert tv[1] < tv[0]


@pytest.mark.parametrize("size", [16, 35, 100])
def test_any_size(size):
    for name in ("clevr", "tetrominoes"):
        s = load_dataset(name, "train", 3, seed=0, size=size)
        assert s.images.shape == (3, 3, size, size) and s.masks.shape == (3, size, size)
        assert (s.masks > 0).any()


@pytest.mark.parametrize("name,options,message", [
    ("clevr", {"size": 4}, "size"),
    ("clevr", {"size": 64.5}, "size"),
    ("clevr", {"max_objects": 11}, "max_objects"),
    ("clevr", {"min_objects": 5, "max_objects": 3}, "min_objects"),
    ("clevr-toy", {"min_objects": 0}, "min_objects"),
    ("clevr-lighting", {"antialias": 8}, "antialias"),
    ("tetrominoes", {"pieces": 9}, "pieces"),
    ("falcor", {"levels": 1}, "levels"),
    ("clevr", {"colour": "red"}, "bad options"),
])
def test_bad_options_are_clear_errors(name, options, message):
    with pytest.raises(CometError, match=message):
        load_dataset(name, "train", 2, **options)


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(CometError) as err:
        load_dataset("clevr-lightning", "train", 2)
    text = str(err.value)
    assert "\n" not in text and "clevr-lighting" in text and "tetrominoes" in text and "falcor" in text


def test_bad_descriptions_are_clear_errors():
    ds = ClevrDataset(size=16)
    good = ds.describe("train", 1)[0]
    with pytest.raises(CometError, match="shape"):
        ds.render([{**good, "objects": [{**good["objects"][0], "shape": "pyramid"}]}])
    with pytest.raises(CometError, match="position"):
        ds.render([{**good, "objects": [{**good["objects"][0], "position": [1, 2]}]}])
    with pytest.raises(CometError, match="camera"):
        ds.render([{k: v for k, v in good.items() if k != "camera"}])
    with pytest.raises(CometError, match="non-empty"):
        ds.render([])
