"""Any comet-zoo dataset plugin as a Hugging Face `datasets.Dataset`.

    from .hf_datasets import to_hf
    ds = to_hf("clevr", "train", 10_000, seed=0)          # rendered once, then cached
    ds.with_format("torch")[:32]["image"]                 # uint8 [32, 3, H, W] (datasets >= 4)

Columns (typed Features):
    image        Image()                         the rendered scene
    mask         Array2D((H, W), uint8)          instance labels, 0 = background (if the dataset has masks)
    <factor>     Value(float32)                  one column per named factor (if any)
    scene        Value(string)                   JSON description (comet_zoo.data.scene), if the plugin gives one

Built with `Dataset.from_generator`, whose fingerprint hashes the generator and its
arguments (dataset name, split, size, seed, options, comet-zoo and plugin versions),
so the same call reuses the Arrow cache instead of rendering again.
"""

from __future__ import annotations

import json
from importlib import metadata

import numpy as np

from .. import registry
from ..errors import CometError
from . import build_dataset, check_scenes, load_dataset

RENDER_CHUNK = 512      # scenes rendered at once: bounds memory for large n


def features_for(name: str, **options):
    """The typed Features of a dataset plugin, from one probe scene."""
    import datasets

    probe = load_dataset(name, "train", 1, 0, **options)
    h, w = probe.images.shape[2:]
    cols = {"image": datasets.Image()}
    if probe.masks is not None:
        cols["mask"] = datasets.Array2D((h, w), "uint8")
    for factor in probe.factor_names:
        if factor in ("image", "mask", "scene"):
            raise CometError(f"dataset {name}: factor name {factor!r} clashes with a column")
        cols[factor] = datasets.Value("float32")
    if probe.descriptions is not None:
        cols["scene"] = datasets.Value("string")
    return datasets.Features(cols)


def _examples(name: str, split: str, n: int, seed: int, options: dict, versions: str):
    """Yield one example dict per scene; rendered in chunks when the plugin can render descriptions."""
    del versions  # only part of the fingerprint: a new release re-renders
    dataset = build_dataset(name, **options)
    if hasattr(dataset, "describe") and hasattr(dataset, "render"):
        descriptions = dataset.describe(split, n, seed)
        batches = (check_scenes(dataset.render(descriptions[i:i + RENDER_CHUNK]), name)
                   for i in range(0, n, RENDER_CHUNK))
    else:
        batches = iter([load_dataset(name, split, n, seed, **options)])
    for scenes in batches:
        images = (scenes.images.transpose(0, 2, 3, 1) * 255 + 0.5).astype(np.uint8)   # [N, H, W, 3]
        for i in range(len(images)):
            row = {"image": images[i]}
            if scenes.masks is not None:
                if scenes.masks.max(initial=0) > 255:
                    raise CometError(f"dataset {name}: more than 255 mask labels do not fit uint8")
                row["mask"] = scenes.masks[i].astype(np.uint8)
            for j, factor in enumerate(scenes.factor_names):
                row[factor] = float(scenes.factors[i, j])
            if scenes.descriptions is not None:
                row["scene"] = json.dumps(scenes.descriptions[i])
            yield row


def to_hf(name: str, split: str = "train", n: int = 1000, seed: int = 0, cache_dir: str | None = None,
          **options):
    """Dataset plugin `name` → `datasets.Dataset` of n scenes of a split (cached by fingerprint)."""
    import datasets

    if n < 1:
        raise CometError(f"number of scenes must be >= 1, got {n}")
    plugin = registry.find("datasets", name)
    try:
        plugin_version = metadata.version(plugin.dist)
    except metadata.PackageNotFoundError:
        plugin_version = "unknown"
    from .._version import __version__

    features = features_for(name, **options)
    kwargs = {"name": plugin.qualified, "split": split, "n": n, "seed": seed, "options": dict(sorted(options.items())),
              "versions": f"comet-zoo {__version__}; {plugin.dist} {plugin_version}"}
    return datasets.Dataset.from_generator(_examples, features=features, gen_kwargs=kwargs, cache_dir=cache_dir,
                                           split=datasets.Split.TRAIN if split == "train" else datasets.Split.TEST)


def to_images(batch) -> "torch.Tensor":  # noqa: F821
    """A torch-formatted batch's `image` → float32 [B, 3, H, W] in [0, 1].

    datasets >= 4 gives images channel-first (uint8 [B, 3, H, W]); older releases
    channel-last ([B, H, W, 3]): both are accepted.
    """
    x = batch["image"]
    if x.shape[-1] == 3 and x.shape[1] != 3:
        x = x.permute(0, 3, 1, 2)
    return x.float().div(255)
