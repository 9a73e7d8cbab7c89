"""Your own images: folders, HF datasets (save_to_disk, parquet), preprocessing, the hash
split, mixtures, and training / evaluating / publishing on them. Real PNG and JPEG files,
real `datasets` Arrow files; nothing touches the network."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from comet_zoo.errors import CometError

from conftest import tiny_config

SIZE = 16


def _picture(rng, h=20, w=24) -> np.ndarray:
    """A blocky colour picture [h, w, 3] uint8: survives JPEG well enough to learn from."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = rng.integers(0, 256, 3)
    top, left = rng.integers(0, h // 2), rng.integers(0, w // 2)
    img[top:top + h // 2, left:left + w // 2] = rng.integers(0, 256, 3)
    return img


def make_folder(root, n=24, masks=True, metadata=True, seed=0):
    """n images (PNG and JPEG, in two sub-folders), with masks/ and a metadata.jsonl of factors."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        rel = f"{'a' if i % 2 else 'b'}/{i:03d}.{'png' if i % 3 else 'jpg'}"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_picture(rng)).save(root / rel)
        if masks:
            mask = np.zeros((20, 24), np.uint8)
            mask[2:10, 3:12] = 1
            mask[12:18, 14:22] = 2
            (root / "masks" / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(mask).save((root / "masks" / rel).with_suffix(".png"))
        rows.append({"file_name": rel, "hue": float(i % 4), "size": float(i % 3), "caption": "words"})
    if metadata:
        (root / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root


def hf_rows(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return {"image": [Image.fromarray(_picture(rng)) for _ in range(n)],
            "light": [float(i % 4) for i in range(n)], "pose": [float(i % 3) for i in range(n)]}


def collection(source, **options):
    from comet_zoo.data.image_collection import ImageCollectionDataset

    return ImageCollectionDataset(str(source), **{"size": SIZE, "test_fraction": 0.25, **options})


def tiny_images_recipe(source, **options):
    from comet_zoo.train.recipe import Recipe, TrainConfig

    return Recipe(tiny_config(pos_embed=[False, False]),
                  TrainConfig(dataset="images", dataset_options={"source": str(source), "test_fraction": 0.25, **options},
                              batch_size=4, total_steps=2, checkpoint_every=2, log_every=1))


def train_eval_push(tmp_path, source, **options):
    """The whole path on one collection: train a few steps, export, evaluate, push to a file:// hub."""
    from comet_zoo.eval.evaluate import evaluate
    from comet_zoo.publish import push
    from comet_zoo.train.trainer import Trainer

    trainer = Trainer(tiny_images_recipe(source, **options), tmp_path / "run")
    assert trainer.run()
    model_dir = trainer.export()
    report = evaluate(trainer.model, "images", n=4, options={"source": str(source), "test_fraction": 0.25, **options})
    where = push(model_dir, "mine", "v1", hub=f"file://{tmp_path / 'hub'}")
    card = (tmp_path / "hub" / "mine" / "v1" / "README.md").read_text()
    return report, where, card


# ---- the whole path, three kinds of source ---------------------------------------------------
def test_folder_of_png_and_jpeg_with_metadata_and_masks_trains_evaluates_and_pushes(tmp_path, one_thread):
    folder = make_folder(tmp_path / "photos")
    report, where, card = train_eval_push(tmp_path, folder)
    assert {"reconstruction", "segmentation", "disentanglement"} <= set(report)
    assert "stripes" in report["segmentation"] or len(report["segmentation"]) > 3   # baselines beside the model
    assert "baselines" in report["disentanglement"]
    assert report["reconstruction"]["mse_mean_image"] > 0
    assert "a local image folder of 24 image files" in card and "sha256" in card
    assert "procedural" not in card


def test_save_to_disk_dataset_trains_evaluates_and_pushes(tmp_path, one_thread):
    import datasets

    datasets.Dataset.from_dict(hf_rows()).save_to_disk(str(tmp_path / "saved"))
    report, _, card = train_eval_push(tmp_path, tmp_path / "saved")
    assert "disentanglement" in report and "segmentation" not in report   # factors, no masks
    assert "a local Hugging Face dataset" in card and "procedural" not in card


def test_parquet_files_train_evaluate_and_push(tmp_path, one_thread):
    import datasets

    (tmp_path / "pq").mkdir()
    rows = hf_rows()
    datasets.Dataset.from_dict({k: v[:18] for k, v in rows.items()}).to_parquet(str(tmp_path / "pq" / "train-0.parquet"))
    datasets.Dataset.from_dict({k: v[18:] for k, v in rows.items()}).to_parquet(str(tmp_path / "pq" / "test-0.parquet"))
    data = collection(tmp_path / "pq", cache_dir=str(tmp_path / "cache"))
    assert (data.count("train"), data.count("test")) == (18, 6)             # the files' own splits
    report, _, card = train_eval_push(tmp_path, tmp_path / "pq", cache_dir=str(tmp_path / "cache"))
    assert report["dataset"]["n"] == 4 and "procedural" not in card


def test_folder_export_of_clevr_renders_gives_the_clevr_training_batch(tmp_path, one_thread):
    """train/ and test/ folders are the collection's own splits, in file-name order: the
    trainer draws exactly the batch it draws from the clevr plugin (PNG holds the uint8)."""
    from comet_zoo.data import load_dataset
    from comet_zoo.data.images import grid, save_png
    from comet_zoo.train.recipe import Recipe, TrainConfig
    from comet_zoo.train.trainer import Trainer

    for split, n in (("train", 24), ("test", 8)):
        scenes = load_dataset("clevr", split, n, 5, size=SIZE, max_objects=3)   # the run's seed
        for i, image in enumerate(torch.from_numpy(scenes.images)):
            save_png(grid(image[None], nrow=1, pad=0), tmp_path / "export" / split / f"{i:05d}.png")
    config = tiny_config(pos_embed=[True, True])
    common = dict(batch_size=8, total_steps=2, seed=5)
    plugin = Trainer(Recipe(config, TrainConfig(dataset="clevr", dataset_options={"max_objects": 3},
                                                train_size=24, **common)), tmp_path / "a")
    folder = Trainer(Recipe(config, TrainConfig(dataset="images", dataset_options={"source": str(tmp_path / "export")},
                                                **common)), tmp_path / "b")
    for _ in range(3):
        (xa, x0a), (xb, x0b) = plugin.batch(), folder.batch()
        assert torch.equal(xa, xb) and torch.equal(x0a, x0b)


# ---- preprocessing and the split --------------------------------------------------------------
def test_preprocessing_exif_sixteen_bit_palette_and_alpha(tmp_path):
    from comet_zoo.data.preprocess import Preprocess, to_rgb

    # EXIF orientation 6 (rotate 90° clockwise to view): a wide file becomes a tall picture
    wide = np.zeros((16, 32, 3), np.uint8)
    wide[:, :16] = 255                                                        # left half white
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(wide).save(tmp_path / "r.jpg", exif=exif, quality=95)
    with Image.open(tmp_path / "r.jpg") as im:
        out, _ = Preprocess(size=16, crop="none").image(im)
    assert out[:, :4].mean() > 200 and out[:, -4:].mean() < 50              # white on top after rotation
    sixteen = Image.fromarray(np.full((8, 8), 65535, np.uint16))             # full-scale 16-bit → white
    assert np.asarray(to_rgb(sixteen)).min() == 255
    half = Image.fromarray(np.full((8, 8), 32768, np.uint16))
    assert 126 <= np.asarray(to_rgb(half)).mean() <= 129                    # scaled, not clipped
    rgba = np.zeros((8, 8, 4), np.uint8)                                     # fully transparent
    assert np.asarray(to_rgb(Image.fromarray(rgba), background=(0.0, 1.0, 0.0)))[0, 0].tolist() == [0, 255, 0]
    palette = Image.fromarray(np.full((8, 8, 3), [10, 200, 30], np.uint8)).convert("P")
    assert to_rgb(palette).mode == "RGB"


def test_random_crops_differ_and_centre_crops_are_fixed(tmp_path):
    make_folder(tmp_path / "p", n=12, masks=False, metadata=False)
    centre = collection(tmp_path / "p").generate("train", 4, 0).images
    assert np.array_equal(centre, collection(tmp_path / "p").generate("train", 4, 0).images)
    rand = collection(tmp_path / "p", crop="random")
    assert np.array_equal(rand.generate("train", 4, 1).images, rand.generate("train", 4, 1).images)  # by seed


def test_hash_split_is_stable_and_never_leaks(tmp_path):
    from comet_zoo.data.hash_split import split_of

    make_folder(tmp_path / "p", n=40, masks=False, metadata=False)
    data = collection(tmp_path / "p")
    train = {data.keys[i] for i in data._splits["train"]}
    test = {data.keys[i] for i in data._splits["test"]}
    assert train and test and not train & test and len(train | test) == 40
    assert all(split_of(k, 0.25) == "test" for k in test)
    # adding files moves no existing file between splits
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "p" / "new.png")
    again = collection(tmp_path / "p")
    assert {again.keys[i] for i in again._splits["test"]} - {"new.png"} == test


# ---- mixtures ------------------------------------------------------------------------------------
def test_mixture_draws_its_sources_in_the_stated_proportions(tmp_path):
    from comet_zoo.data import load_dataset

    make_folder(tmp_path / "p", n=40, masks=False, metadata=False)
    sources = [{"dataset": "shapes", "weight": 3}, {"dataset": "images", "options": {"source": str(tmp_path / "p"),
                                                                                      "test_fraction": 0.25}, "weight": 1}]
    scenes = load_dataset("mixture", "train", 24, 0, sources=sources, size=SIZE)
    assert scenes.images.shape == (24, 3, SIZE, SIZE)
    assert scenes.sources.count("shapes") == 18 and scenes.sources.count("images") == 6
    assert scenes.sources != sorted(scenes.sources)                          # interleaved, not blocks
    assert scenes.masks is None                                               # not every source has masks
    again = load_dataset("mixture", "train", 24, 0, sources=sources, size=SIZE)
    assert np.array_equal(scenes.images, again.images)


def test_mixture_of_renderers_renders_a_mixed_scene_against_truth():
    from comet_zoo.data.mixture import MixtureDataset

    mix = MixtureDataset(sources=["clevr", "clevr-toy"], size=SIZE)
    desc = mix.describe("test", 4, 0)
    assert {d["source"] for d in desc} == {"clevr", "clevr-toy"}
    clevr = next(d for d in desc if d["source"] == "clevr")
    toy = next(d for d in desc if d["source"] == "clevr-toy")
    mixed = {**toy, "objects": toy["objects"] + [clevr["objects"][0]]}        # a clevr object in a toy scene
    scenes = mix.render([mixed])
    assert scenes.masks.max() == len(mixed["objects"]) and scenes.sources == ["clevr-toy"]


# ---- bad data: refused with a one-line error, or skipped and counted ---------------------------------
def _bad_folder(tmp_path, what):
    folder = make_folder(tmp_path / "bad", n=12, masks=False, metadata=False)
    if what == "zero-byte":
        (folder / "zero.png").write_bytes(b"")
    elif what == "non-image":
        (folder / "notes.png").write_text("not a picture")
    elif what == "truncated":
        data = (folder / "a" / "001.png").read_bytes()
        (folder / "cut.png").write_bytes(data[: len(data) // 2])
    elif what == "bomb":   # a real PNG header that claims 40000 x 40000 pixels
        import struct
        import zlib

        png = bytearray((folder / "a" / "001.png").read_bytes())
        png[16:24] = struct.pack(">II", 40000, 40000)
        png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
        (folder / "bomb.png").write_bytes(bytes(png))
    elif what == "unreadable":
        (folder / "gone.png").symlink_to(folder / "nowhere.png")
    elif what == "too-small":
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "tiny.png")
    return folder


@pytest.mark.parametrize("what, reason", [("zero-byte", "empty file"), ("non-image", "not an image"),
                                          ("truncated", "corrupt or truncated"), ("bomb", "too many pixels"),
                                          ("unreadable", "unreadable"), ("too-small", "smaller than 16 px")])
def test_bad_files_are_skipped_and_counted_or_refused_when_strict(tmp_path, what, reason):
    folder = _bad_folder(tmp_path, what)
    data = collection(folder)
    assert len(data.problems) == 1 and reason in data.problems[0][1]
    assert data.count("train") + data.count("test") == 12
    assert f"skipped 1 (1 {reason.split(' (')[0]}" in data.summary()
    with pytest.raises(CometError, match=reason) as err:
        collection(folder, strict=True)
    assert "\n" not in str(err.value) and data.problems[0][0] in str(err.value)


def test_mixed_modes_are_converted_and_counted_or_refused_when_strict(tmp_path):
    folder = make_folder(tmp_path / "m", n=12, masks=False, metadata=False)
    Image.fromarray(np.zeros((20, 20), np.uint8), mode="L").save(folder / "gray.png")
    Image.fromarray(np.zeros((20, 20, 4), np.uint8)).save(folder / "alpha.png")
    data = collection(folder)
    assert data.modes["L"] == 1 and data.modes["RGBA"] == 1 and "converted to RGB" in data.summary()
    with pytest.raises(CometError, match="mixed modes"):
        collection(folder, strict=True)


def test_empty_folder_too_few_images_and_missing_metadata_file_are_one_line_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no pictures here")
    with pytest.raises(CometError, match="no images in"):
        collection(tmp_path / "empty")
    folder = make_folder(tmp_path / "few", n=12, masks=False, metadata=False)
    data = collection(folder)
    with pytest.raises(CometError, match=f"has {data.count('test')} usable test images; asked for 50"):
        data.generate("test", 50, 0)
    meta = make_folder(tmp_path / "meta", n=6, masks=False)
    with open(meta / "metadata.jsonl", "a") as f:
        f.write(json.dumps({"file_name": "a/missing.png", "hue": 1, "size": 1}) + "\n")
    with pytest.raises(CometError, match="'a/missing.png' does not exist"):
        collection(meta)
    only_bad = tmp_path / "only_bad"
    only_bad.mkdir()
    (only_bad / "x.png").write_bytes(b"")
    with pytest.raises(CometError, match="no usable images.*1 skipped"):
        collection(only_bad)


def test_hf_dataset_without_an_image_column_names_the_columns(tmp_path):
    import datasets

    datasets.Dataset.from_dict({"text": ["a", "b"], "score": [1.0, 2.0]}).save_to_disk(str(tmp_path / "text"))
    with pytest.raises(CometError, match="no image column.*columns: text, score"):
        collection(tmp_path / "text")
    datasets.Dataset.from_dict(hf_rows(4)).save_to_disk(str(tmp_path / "imgs"))
    with pytest.raises(CometError, match="no image column 'picture'; columns: image, light, pose"):
        collection(tmp_path / "imgs", image_column="picture")


def test_hub_id_offline_and_not_cached_is_a_one_line_error(tmp_path, monkeypatch):
    import datasets
    import huggingface_hub

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # read at import: an already imported `datasets` must be told too, or it would try the network
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(CometError, match=r"cannot load hf:someone/no-such-photos \(offline") as err:
        collection("hf:someone/no-such-photos", cache_dir=str(tmp_path / "cache"))
    assert "\n" not in str(err.value)


def test_a_truncated_file_found_while_training_is_replaced_and_counted(tmp_path):
    folder = make_folder(tmp_path / "t", n=12, masks=False, metadata=False)
    data = collection(folder, verify="header")                               # no full decode up front
    victim = data._splits["train"][0]
    path = folder / data.keys[victim]
    path.write_bytes(path.read_bytes()[:60])
    seen = []
    lazy = data.lazy("train")
    lazy.on_problem = lambda key, why: seen.append(key)
    batch = lazy[torch.tensor([0, 1])]
    assert batch.shape == (2, 3, SIZE, SIZE) and batch.dtype == torch.uint8
    assert seen == [data.keys[victim]] and len(data.problems) == 1
    with pytest.raises(CometError, match="corrupt or truncated"):
        collection(folder, verify="header", strict=True).lazy("train")[torch.tensor([0])]


# ---- the command line ------------------------------------------------------------------------------
def comet(*args, cwd=None):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "comet_zoo.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_cli_from_a_folder_to_a_decomposed_picture_without_a_recipe(tmp_path):
    folder = make_folder(tmp_path / "photos", n=40, masks=False, metadata=False)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    out = comet("train", "--data", str(folder), "--size", "16", "--components", "2", "--out", str(tmp_path / "run"),
                "--steps", "2", "--device", "cpu")
    assert out.returncode == 0, out.stderr
    assert "skipped 1 (1 not an image" in " ".join(out.stdout.split())           # counted, never silent
    recipe = json.loads((tmp_path / "run" / "model" / "recipe.json").read_text())
    assert recipe["train"]["dataset"] == "images" and recipe["model"]["pos_embed"] == [False, False]
    shown = comet("decompose", str(tmp_path / "run" / "model"), "--data", str(folder), "--out", str(tmp_path / "d.png"))
    assert shown.returncode == 0, shown.stderr
    assert Image.open(tmp_path / "d.png").size[0] > 16
    preview = comet("datasets", "preview", str(folder), "--size", "16", "--n", "4", "--out", str(tmp_path / "p.png"))
    assert preview.returncode == 0 and (tmp_path / "p.png").is_file(), preview.stderr
    strict = comet("train", "--data", str(folder), "--size", "16", "--out", str(tmp_path / "strict"), "--steps", "1",
                   "--strict", "--device", "cpu")
    assert strict.returncode == 1 and "broken.jpg: not an image" in strict.stderr
    assert len(strict.stderr.strip().splitlines()) == 1 and "Traceback" not in strict.stderr
    neither = comet("train", "--out", str(tmp_path / "x"))
    assert neither.returncode == 2 and "--data" in neither.stderr


def test_data_spec_reads_folders_hub_ids_names_and_weighted_mixtures(tmp_path):
    from comet_zoo.train.recipe import Recipe, apply_data, data_spec, resolve_recipe

    (tmp_path / "p").mkdir()
    assert data_spec([str(tmp_path / "p")], strict=True) == ("images", {"source": str(tmp_path / "p"), "strict": True})
    assert data_spec(["hf:org/faces"]) == ("images", {"source": "hf:org/faces"})
    assert data_spec(["clevr"]) == ("clevr", {})
    name, options = data_spec(["clevr", "hf:org/faces*2"])
    assert name == "mixture" and [s["weight"] for s in options["sources"]] == [1.0, 2.0]
    with pytest.raises(CometError, match="no such folder or file, and not a data set name"):
        data_spec([str(tmp_path / "nowhere")])
    recipe = apply_data(Recipe.load(resolve_recipe("clevr64")), "images", {"source": "x"}, size=32, components=3)
    assert recipe.train.dataset == "images" and recipe.model.image_size == 32
    assert recipe.model.pos_embed == [True, True, True]                        # the recipe's pattern, cut to K


def test_cross_domain_recombination_scores_against_rendered_truth(one_thread):
    from comet_zoo.core.model import COMET
    from comet_zoo.eval.cross_domain import cross_domain_scores

    model = COMET(tiny_config(pos_embed=[True, True], steps=2))
    two = {"min_objects": 1, "max_objects": 2}
    sources = [{"dataset": "clevr", "options": two}, {"dataset": "clevr-toy", "options": two}]
    scores = cross_domain_scores(model, {"sources": sources}, pairs=2)
    assert (scores["from"], scores["into"]) == ("clevr", "clevr-toy") and scores["n"] >= 1
    for row in ("composed", "reconstruction_b", "input_b"):
        assert np.isfinite(scores[row]["psnr"]) and -1 <= scores[row]["ssim"] <= 1
