"""The dataset plugin contract.

An entry point in the `comet_zoo.datasets` group names a class (or factory)
that is called with keyword options (e.g. `size=32`) and returns an object with:

    name: str
    size: int                  image side in pixels
    generate(split, n, seed)   → Scenes, deterministic in (seed, split, n)

`split` is "train" or "test"; the two never share a scene. `Scenes.images` is
required; masks, named factors and per-scene descriptions are optional.

Optional, for datasets rendered from scene descriptions (see comet_zoo.data.scene):

    describe(split, n, seed)   → list of plain dicts, the scenes generate() renders
    render(descriptions)       → Scenes of given (e.g. edited or recombined) scenes

Optional, for collections read from disk rather than rendered (comet_zoo.data.image_collection):

    count(split)               → how many images the split holds (generate asks for at most that)
    lazy(split, seed)          → the split as an indexable of uint8 [B, 3, H, W] batches, read on
                                 demand (the trainer reads batches from it instead of holding them)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from .. import registry
from .._checks import check_seed
from ..errors import CometError, CometRuntimeError

SPLITS = {"train": 0, "test": 1}


@dataclass
class Scenes:
    images: np.ndarray                      # float32 [N, 3, H, W] in [0, 1]
    masks: np.ndarray | None = None         # int64 [N, H, W]: 0 background, 1.. objects
    factors: np.ndarray | None = None       # float32 [N, F]
    factor_names: list[str] = field(default_factory=list)
    # per scene, the plain-dict description it was rendered from (comet_zoo.data.scene):
    # per-object attributes and 3-D positions; object i is mask label i + 1
    descriptions: list[dict] | None = None
    # per scene, the name of the data set it came from (a mixture's sources), else None
    sources: list[str] | None = None

    def __len__(self) -> int:
        return len(self.images)


@runtime_checkable
class Dataset(Protocol):
    """What a `comet_zoo.datasets` entry point returns when called with its options."""

    name: str
    size: int   # image side in pixels

    def generate(self, split: str, n: int, seed: int) -> "Scenes":
        """n scenes of `split`, deterministic in (seed, split, n); train and test never share one."""


def split_rng(seed: int, split: str) -> np.random.Generator:
    """The random stream of one split: train and test streams are independent."""
    if split not in SPLITS:
        raise CometError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    return np.random.default_rng([seed, SPLITS[split], 0xC0E7])


def check_scenes(scenes: Scenes, plugin: str, n: int | None = None) -> Scenes:
    """Validate what a plugin returned (n scenes when asked for n), naming the plugin in any error."""
    if not isinstance(scenes, Scenes):
        raise CometError(f"dataset {plugin}: generate() must return comet_zoo.data.Scenes, got {type(scenes).__name__}")
    images = scenes.images
    if not isinstance(images, np.ndarray) or images.ndim != 4 or images.shape[1] != 3:
        raise CometError(f"dataset {plugin}: images must be a [N, 3, H, W] array")
    if images.shape[2] != images.shape[3]:
        raise CometError(f"dataset {plugin}: images must be square, got {images.shape[2]}x{images.shape[3]}")
    if n is not None and len(images) != n:
        raise CometError(f"dataset {plugin}: asked for {n} scenes, generate() returned {len(images)}")
    if scenes.masks is not None and not isinstance(scenes.masks, np.ndarray):
        raise CometError(f"dataset {plugin}: masks must be an [N, H, W] array, got {type(scenes.masks).__name__}")
    if images.dtype != np.float32:
        raise CometError(f"dataset {plugin}: images must be float32, got {images.dtype}")
    if len(images) and not np.isfinite(images).all():
        raise CometError(f"dataset {plugin}: images contain NaN or infinite values")
    if len(images) and (images.min() < 0 or images.max() > 1):
        raise CometError(f"dataset {plugin}: image values must lie in [0, 1]")
    if scenes.masks is not None and scenes.masks.shape != (images.shape[0], *images.shape[2:]):
        raise CometError(f"dataset {plugin}: masks must be [N, H, W] matching the images")
    if scenes.masks is not None and not np.issubdtype(scenes.masks.dtype, np.integer):
        raise CometError(f"dataset {plugin}: masks must be integer labels, got {scenes.masks.dtype}")
    if scenes.factors is not None:
        f = scenes.factors
        if not isinstance(f, np.ndarray) or f.shape != (len(images), len(scenes.factor_names)):
            raise CometError(f"dataset {plugin}: factors must be [N, F] with F = len(factor_names) "
                             f"= {len(scenes.factor_names)}, got {getattr(f, 'shape', type(f).__name__)}")
    if scenes.descriptions is not None and len(scenes.descriptions) != len(images):
        raise CometError(f"dataset {plugin}: {len(scenes.descriptions)} descriptions for {len(images)} images")
    if scenes.sources is not None and len(scenes.sources) != len(images):
        raise CometError(f"dataset {plugin}: {len(scenes.sources)} source names for {len(images)} images")
    return scenes


MAX_SCENES = 50_000   # per call: 50 000 scenes of 64 px are 2.5 GB of float32


def load_dataset(name: str, split: str, n: int, seed: int = 0, **options) -> Scenes:
    """Build dataset plugin `name` with `options` and generate n scenes of a split. A plugin's
    own failure is reported as one line naming the plugin, never as its traceback."""
    if not 1 <= n <= MAX_SCENES:
        raise CometError(f"number of scenes must be in 1..{MAX_SCENES}, got {n}")
    check_seed(seed)   # a plugin would fail on a negative or huge seed with its own exception
    dataset = build_dataset(name, **options)
    try:
        scenes = dataset.generate(split, n, seed)
    except CometError:
        raise
    except Exception as exc:
        raise CometRuntimeError(f"dataset {name}: generate() failed: {type(exc).__name__}: {_first_line(exc)}") from None
    return check_scenes(scenes, name, n)


def build_dataset(name: str, **options):
    """The data-set object of plugin `name` with `options`; a plugin's failure is one line naming it."""
    factory = registry.load("datasets", name)
    try:
        return factory(**options)
    except TypeError as exc:
        raise CometError(f"dataset {name}: bad options {options}: {exc}") from None
    except CometError:
        raise
    except Exception as exc:
        raise CometRuntimeError(f"dataset {name} failed to start: {type(exc).__name__}: {_first_line(exc)}") from None


def reads_from_disk(dataset) -> bool:
    """A collection read lazily from disk (comet_zoo.data.image_collection), not rendered:
    it has count(split) and lazy(split, seed), and holds only what it holds."""
    return callable(getattr(dataset, "lazy", None)) and callable(getattr(dataset, "count", None))


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or ["(no message)"])[0]
