"""`shapes`: 1–3 coloured squares on a plain background, with instance masks.

The smallest data set on which decomposition can be learned and checked: used by
the tests and the quick start. Vectorised NumPy, deterministic from the seed.
"""

from __future__ import annotations

import numpy as np

from comet_zoo.data import Scenes, split_rng
from comet_zoo.errors import CometError

PALETTE = np.array([[0.90, 0.20, 0.20], [0.20, 0.75, 0.25], [0.25, 0.40, 0.95],
                    [0.95, 0.85, 0.20], [0.75, 0.30, 0.85], [0.20, 0.85, 0.85]], dtype=np.float32)


class ShapesDataset:
    name = "shapes"

    def __init__(self, size: int = 32, min_objects: int = 1, max_objects: int = 3, background: float = 0.1):
        if not 8 <= size <= 256:
            raise CometError(f"shapes: size must be in 8..256, got {size}")
        if not 1 <= min_objects <= max_objects <= len(PALETTE):
            raise CometError(f"shapes: need 1 <= min_objects <= max_objects <= {len(PALETTE)}")
        self.size, self.min_objects, self.max_objects = size, min_objects, max_objects
        self.background = background

    def generate(self, split: str, n: int, seed: int = 0) -> Scenes:
        rng = split_rng(seed, split)
        s, m = self.size, self.max_objects
        count = rng.integers(self.min_objects, m + 1, size=n)                  # [N]
        side = rng.integers(s // 5, s // 3 + 1, size=(n, m))                    # [N, M]
        top = (rng.random((n, m)) * (s - side)).astype(int)
        left = (rng.random((n, m)) * (s - side)).astype(int)
        colour = PALETTE[np.argsort(rng.random((n, len(PALETTE))), axis=1)[:, :m]]  # distinct, [N, M, 3]
        ys = np.arange(s)[None, None, :, None]
        xs = np.arange(s)[None, None, None, :]
        inside = ((ys >= top[..., None, None]) & (ys < (top + side)[..., None, None])
                  & (xs >= left[..., None, None]) & (xs < (left + side)[..., None, None]))  # [N, M, S, S]
        inside &= (np.arange(m)[None, :] < count[:, None])[..., None, None]
        masks = np.zeros((n, s, s), dtype=np.int64)
        for j in range(m):  # later squares occlude earlier ones
            masks[inside[:, j]] = j + 1
        lut = np.concatenate([np.full((n, 1, 3), self.background, np.float32), colour], axis=1)  # [N, M+1, 3]
        images = np.take_along_axis(lut, masks.reshape(n, -1, 1), axis=1).reshape(n, s, s, 3)
        return Scenes(images.transpose(0, 3, 1, 2).copy(), masks)
