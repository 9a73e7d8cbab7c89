"""`falcor`: one fixed indoor scene under 7 discrete factors (after Falcor3D).

Falcor3D (Nie et al. 2020, used by COMET for disentanglement) renders one room
while varying light intensity, light x / y / z and camera x / y / z. Here the room
is a floor, two walls, a cabinet, a vase, a box and a metal ball, lit by a point
light; every factor takes `levels` evenly spaced values (default 5: 5^7 = 78 125
combinations). Images have named factors and no object masks.

- sampled mode (default): scenes are drawn uniformly from the split's combinations;
  a combination is a test one iff a hash of its index says so (1 in 10), whatever
  the seed, so train and test never share an image.
- factorial mode (`factorial=True`): `generate("train", n)` returns the first n
  combinations of the full grid in C order (the last factor varies fastest), the
  layout the disentanglement metrics need; `grid()` gives the whole grid.
"""

from __future__ import annotations

import numpy as np
from comet_zoo.plugins.clevr import CHUNK, check_size, chunk_rng

from comet_zoo.data import Scenes
from comet_zoo.data.render import render
from comet_zoo.data.scene import pack
from comet_zoo.errors import CometError

FACTORS = {                              # name → (low, high); positions in scene units, z up
    "light_intensity": (0.4, 1.2),      # brightness at distance 4.5; the light stays > 2.5 from walls
    "light_x": (-1.5, 2.5), "light_y": (-2.5, 0.5), "light_z": (2.5, 4.5),
    "camera_x": (-1.5, 1.5), "camera_y": (-8.0, -6.0), "camera_z": (1.5, 3.5),
}
LOOK_AT = [0.0, 0.8, 0.8]
TEST_FRACTION = 10

# the room: (shape, centre, extent, rotation°, rgb, material, casts a shadow)
ROOM = [
    ("cube", [0.0, 3.2, 3.0], [8.0, 0.2, 3.0], 0, [0.78, 0.74, 0.66], "rubber", False),     # back wall
    ("cube", [-4.2, 0.0, 3.0], [0.2, 8.0, 3.0], 0, [0.62, 0.70, 0.74], "rubber", False),    # left wall
    ("cube", [0.6, 1.6, 0.5], [1.3, 0.6, 0.5], 0, [0.45, 0.28, 0.16], "rubber", True),      # cabinet
    ("sphere", [0.9, 1.5, 1.38], [0.38, 0.38, 0.38], 0, [0.85, 0.85, 0.9], "metal", True),  # ball on it
    ("cylinder", [-2.0, 0.8, 0.65], [0.35, 0.35, 0.65], 0, [0.2, 0.45, 0.7], "rubber", True),  # vase
    ("cube", [2.0, -0.6, 0.35], [0.35, 0.35, 0.35], 30, [0.75, 0.2, 0.2], "rubber", True),  # box
    ("capsule", [-0.8, -0.4, 0.5], [0.25, 0.25, 0.25], 0, [0.9, 0.75, 0.2], "rubber", True),  # toy
]


def _hash(index: np.ndarray) -> np.ndarray:
    """A fixed 32-bit integer hash (splitmix-style) of combination indices."""
    x = (index.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class FalcorDataset:
    """Options: size (64), levels (values per factor, 2..10, default 5), factorial (False)."""

    name = "falcor"
    factor_names = list(FACTORS)

    def __init__(self, size: int = 64, levels: int = 5, factorial: bool = False):
        self.size = check_size(self.name, size)
        if not isinstance(levels, int) or not 2 <= levels <= 10:
            raise CometError(f"{self.name}: levels must be an integer in 2..10, got {levels!r}")
        self.levels, self.factorial = levels, bool(factorial)
        self.values = np.array([np.linspace(lo, hi, levels) for lo, hi in FACTORS.values()])  # [7, L]
        self.total = levels ** len(FACTORS)

    def split_of(self, index: np.ndarray) -> np.ndarray:
        """'test' / 'train' per combination index (independent of any seed)."""
        return np.where(_hash(index) % np.uint64(TEST_FRACTION) == 0, "test", "train")

    def generate(self, split: str, n: int, seed: int = 0) -> Scenes:
        return self.render(self.describe(split, n, seed))

    def grid(self) -> Scenes:
        """Every combination, in C order: reshape factors to [L]*7 + [7] to index by level."""
        return self.render([self.description(i) for i in range(self.total)])

    def describe(self, split: str, n: int, seed: int = 0) -> list[dict]:
        if self.factorial:
            if split != "train":
                raise CometError(f"{self.name}: factorial mode has one split, 'train' (the full grid)")
            if n > self.total:
                raise CometError(f"{self.name}: the grid has {self.total} combinations, asked for {n}")
            return [self.description(i) for i in range(n)]
        out, chunk = [], 0
        while len(out) < n:
            index = chunk_rng(seed, split, chunk, 5).integers(0, self.total, CHUNK)
            out += [self.description(int(i)) for i in index[self.split_of(index) == split]]
            chunk += 1
        return out[:n]

    def levels_of(self, index: int) -> list[int]:
        """Combination index → level of each factor (C order)."""
        return [int(v) for v in np.unravel_index(index, (self.levels,) * len(FACTORS))]

    def description(self, index: int) -> dict:
        f = dict(zip(FACTORS, (self.values[j, l] for j, l in enumerate(self.levels_of(index)))))
        objects = [{"shape": s, "position": c, "extent": e, "rotation": r, "rgb": rgb, "material": mat,
                    "backdrop": True, "shadow": shadow} for s, c, e, r, rgb, mat, shadow in ROOM]
        return {"camera": {"position": [f["camera_x"], f["camera_y"], f["camera_z"]], "look_at": LOOK_AT, "fov": 50.0},
                "light": {"type": "point", "position": [f["light_x"], f["light_y"], f["light_z"]],
                          "intensity": f["light_intensity"], "reference": 4.5, "ambient": 0.22},
                "ground": [0.55, 0.45, 0.35], "objects": objects, "index": index}

    def factors_of(self, description: dict) -> list[float]:
        light, cam = description["light"], description["camera"]
        return [light["intensity"], *light["position"], *cam["position"]]

    def render(self, descriptions: list[dict]) -> Scenes:
        if not isinstance(descriptions, (list, tuple)) or not descriptions:
            raise CometError(f"{self.name}: render needs a non-empty list of scene descriptions")
        parts = [render(pack(descriptions[i:i + 128]), self.size)[0] for i in range(0, len(descriptions), 128)]
        factors = np.array([self.factors_of(d) for d in descriptions], np.float32)     # [N, 7]
        return Scenes(np.concatenate(parts), None, factors, list(self.factor_names), list(descriptions))
