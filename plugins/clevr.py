"""`clevr`, `clevr-lighting`, `clevr-toy`: CLEVR-like 3-D scenes with full ground truth.

CLEVR (Johnson et al. 2017) rendered procedurally (comet_zoo.data.render) instead of in
Blender: 3–10 objects on a grey ground under a jittered camera; each scene is first
sampled as a plain-dict description (comet_zoo.data.scene), then rendered, so any
edited or recombined description renders the same way.

- clevr: cube / sphere / cylinder, large / small, rubber / metal, the 8 CLEVR colours;
  light and camera jitter is small, as in CLEVR. No global factors.
- clevr-lighting: the same objects under strongly varying light: azimuth, elevation,
  intensity and hue are the named factors of every image.
- clevr-toy: cone / capsule / ring in 8 other colours on the same ground, camera and
  light as clevr, so its objects recombine with clevr's.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from comet_zoo.data import SPLITS, Scenes
from comet_zoo.data.raycast import UNIT_EXTENT
from comet_zoo.data.render import render
from comet_zoo.data.scene import CLEVR_COLOURS, COLOURS, TOY_COLOURS, pack
from comet_zoo.errors import CometError

CHUNK = 256                 # scenes per random stream: generate(n) is a prefix of generate(n + k)
ARENA = 3.0                 # objects stand in [-ARENA, ARENA]²
GAP = 0.25                  # least free space between two objects' footprints
CAMERA = (7.4, -6.9, 5.0)   # CLEVR's camera position, looking at the origin
MAX_OBJECTS = 10


def chunk_rng(seed: int, split: str, chunk: int, salt: int) -> np.random.Generator:
    """Independent stream per (seed, split, chunk, dataset): train and test never share one."""
    if split not in SPLITS:
        raise CometError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    return np.random.default_rng([seed, SPLITS[split], chunk, salt, 0xC0E7])


def check_size(name: str, size) -> int:
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or not 8 <= size <= 1024:
        raise CometError(f"{name}: size must be an integer in 8..1024, got {size!r}")
    return int(size)


def _supersampled(scenes, size: int, aa: int):
    """Render at aa× the size, then average aa×aa samples; a pixel's label is its majority label."""
    images, masks = render(scenes, size * aa)
    if aa == 1:
        return images, masks
    n = len(images)
    images = images.reshape(n, 3, size, aa, size, aa).mean((3, 5))            # [N, 3, S, S]
    labels = masks.max() + 1
    votes = np.zeros((n, labels, size, size), np.int16)                       # [N, L, S, S] sample counts
    blocks = masks.reshape(n, size, aa, size, aa)
    for dy in range(aa):
        for dx in range(aa):
            np.add.at(votes, (np.arange(n)[:, None, None], blocks[:, :, dy, :, dx],
                              np.arange(size)[None, :, None], np.arange(size)[None, None, :]), 1)
    return images.astype(np.float32), votes.argmax(1)


class ClevrDataset:
    """CLEVR scenes; see the module docstring.

    Options: size, min_objects, max_objects, antialias (samples per pixel side: 2 renders
    4 rays a pixel, smoother like CLEVR's downsampled renders, 4× slower), threads.
    """

    name = "clevr"
    salt = 1
    shapes = ("cube", "sphere", "cylinder")
    colours = tuple(CLEVR_COLOURS)
    sizes = {"large": 0.7, "small": 0.35}       # CLEVR's object radii
    materials = ("rubber", "metal")
    factor_names: list[str] = []

    def __init__(self, size: int = 64, min_objects: int = 3, max_objects: int = 6, antialias: int = 1,
                 threads: int = 2):
        self.size = check_size(self.name, size)
        if not (isinstance(min_objects, int) and isinstance(max_objects, int)
                and 1 <= min_objects <= max_objects <= MAX_OBJECTS):
            raise CometError(f"{self.name}: need integers 1 <= min_objects <= max_objects <= {MAX_OBJECTS}, "
                             f"got {min_objects}, {max_objects}")
        self.min_objects, self.max_objects = min_objects, max_objects
        if not isinstance(antialias, int) or not 1 <= antialias <= 4:
            raise CometError(f"{self.name}: antialias (samples per pixel side) must be 1..4, got {antialias!r}")
        self.antialias = antialias
        self.threads = max(1, int(threads))

    # ---- the contract -------------------------------------------------------------------
    def generate(self, split: str, n: int, seed: int = 0) -> Scenes:
        """n scenes of a split, rendered, with masks, factors and their descriptions."""
        return self.render(self.describe(split, n, seed))

    def describe(self, split: str, n: int, seed: int = 0) -> list[dict]:
        """Descriptions of the n scenes `generate(split, n, seed)` renders."""
        out: list[dict] = []
        for c in range(-(-n // CHUNK)):
            out += self._sample(chunk_rng(seed, split, c, self.salt), CHUNK)
        return out[:n]

    def render(self, descriptions: list[dict]) -> Scenes:
        """Render descriptions (this dataset's or edited ones) → Scenes at this dataset's size."""
        if not isinstance(descriptions, (list, tuple)) or not descriptions:
            raise CometError(f"{self.name}: render needs a non-empty list of scene descriptions")
        chunks = [descriptions[i:i + 128] for i in range(0, len(descriptions), 128)]
        work = lambda chunk: _supersampled(pack(chunk), self.size, self.antialias)   # noqa: E731
        if self.threads > 1 and len(chunks) > 1:  # NumPy releases the GIL inside its loops
            with ThreadPoolExecutor(self.threads) as pool:
                parts = list(pool.map(work, chunks))
        else:
            parts = [work(c) for c in chunks]
        images = np.concatenate([p[0] for p in parts])                            # [N, 3, H, W]
        masks = np.concatenate([p[1] for p in parts])                             # [N, H, W]
        factors = None
        if self.factor_names:
            factors = np.array([self.factors_of(d) for d in descriptions], np.float32)  # [N, F]
        return Scenes(images, masks, factors, list(self.factor_names), list(descriptions))

    def factors_of(self, description: dict) -> list[float]:
        return []

    # ---- sampling -----------------------------------------------------------------------
    def _extent(self, shape: str, r: float) -> list[float]:
        """Scale of the unit shape for CLEVR radius r (cubes are r/√2, as in CLEVR)."""
        if shape == "cube":
            return [r / math.sqrt(2)] * 3
        return [r, r, r]

    def _light(self, rng, n):
        """Near-fixed key light, jittered as CLEVR jitters its lamps."""
        return [{"type": "directional", "azimuth": float(a), "elevation": float(e), "intensity": float(i),
                 "hue": float(h), "saturation": 0.06, "ambient": 0.5}
                for a, e, i, h in zip(rng.uniform(-25, 5, n), rng.uniform(45, 65, n),
                                      rng.uniform(0.65, 0.8, n), rng.random(n))]

    def _sample(self, rng: np.random.Generator, n: int) -> list[dict]:
        m = self.max_objects
        count = rng.integers(self.min_objects, m + 1, n)                          # [n]
        shape = rng.integers(0, len(self.shapes), (n, m))
        colour = rng.integers(0, len(self.colours), (n, m))
        size = rng.integers(0, len(self.sizes), (n, m))
        material = rng.integers(0, len(self.materials), (n, m))
        rotation = rng.uniform(0, 360, (n, m))
        radius = np.array(list(self.sizes.values()))[size]                       # [n, m]
        xy = self._place(rng, radius, count)                                      # [n, m, 2]
        cam = np.array(CAMERA) + rng.uniform(-0.5, 0.5, (n, 3))                   # CLEVR jitters ±0.5
        lights = self._light(rng, n)
        size_names = list(self.sizes)
        scenes = []
        for i in range(n):
            objects = []
            for j in range(count[i]):
                s = self.shapes[shape[i, j]]
                ext = self._extent(s, radius[i, j])
                objects.append({
                    "shape": s, "size": size_names[size[i, j]], "material": self.materials[material[i, j]],
                    "colour": self.colours[colour[i, j]], "rgb": list(COLOURS[self.colours[colour[i, j]]]),
                    "position": [float(xy[i, j, 0]), float(xy[i, j, 1]), ext[2] * UNIT_EXTENT[s][2]],
                    "rotation": float(rotation[i, j]), "extent": ext})
            scenes.append({"camera": {"position": cam[i].tolist(), "look_at": [0.0, 0.0, 0.0], "fov": 36.0},
                           "light": lights[i], "ground": [0.55, 0.55, 0.55], "objects": objects})
        return scenes

    def _place(self, rng, radius, count, tries: int = 200):
        """Object centres [n, m, 2] with footprints (radius r) at least GAP apart.

        Slot by slot, vectorised over scenes: resample the scenes whose new object
        collides with an earlier one; a scene that cannot fit it (rare with 10 large
        objects) shrinks that object's radius to the smallest size.
        """
        n, m = radius.shape
        xy = np.zeros((n, m, 2))
        foot = radius * 1.0                                                       # footprint radius
        for j in range(m):
            todo = np.arange(n)
            for attempt in range(tries):
                xy[todo, j] = rng.uniform(-ARENA, ARENA, (len(todo), 2))
                if j == 0:
                    break
                dist = np.linalg.norm(xy[todo, :j] - xy[todo, j, None], axis=-1)  # [T, j]
                need = foot[todo, :j] + foot[todo, j, None] + GAP
                clash = ((dist < need) & (np.arange(j) < count[todo, None])).any(-1)
                todo = todo[clash]
                if not len(todo):
                    break
                if attempt == tries // 2:
                    radius[todo, j] = min(self.sizes.values())
                    foot[todo, j] = radius[todo, j]
        return xy


class ClevrLightingDataset(ClevrDataset):
    """CLEVR objects under strongly varying light, recorded as four factors per image."""

    name = "clevr-lighting"
    salt = 2
    factor_names = ["light_azimuth", "light_elevation", "light_intensity", "light_hue"]
    ranges = {"light_azimuth": (0.0, 360.0), "light_elevation": (15.0, 75.0),
              "light_intensity": (0.35, 1.4), "light_hue": (0.0, 1.0)}

    def _light(self, rng, n):
        r = self.ranges
        return [{"type": "directional", "azimuth": float(a), "elevation": float(e), "intensity": float(i),
                 "hue": float(h), "saturation": 0.45, "ambient": 0.3}
                for a, e, i, h in zip(rng.uniform(*r["light_azimuth"], n), rng.uniform(*r["light_elevation"], n),
                                      rng.uniform(*r["light_intensity"], n), rng.uniform(*r["light_hue"], n))]

    def factors_of(self, description: dict) -> list[float]:
        light = description["light"]
        return [light["azimuth"] % 360, light["elevation"], light["intensity"], light.get("hue", 0.0) % 1]


class ClevrToyDataset(ClevrDataset):
    """Other toy objects in other colours, on CLEVR's ground, camera and light."""

    name = "clevr-toy"
    salt = 3
    shapes = ("cone", "capsule", "ring")
    colours = tuple(TOY_COLOURS)

    def _extent(self, shape: str, r: float) -> list[float]:
        if shape == "capsule":
            return [0.6 * r, 0.6 * r, 0.6 * r]          # radius 0.6 r, height 2.4 r
        if shape == "ring":
            return [r, r, 0.35 * r]                      # a flat washer
        return [r, r, r]                                 # cone: base radius r, height 2 r
