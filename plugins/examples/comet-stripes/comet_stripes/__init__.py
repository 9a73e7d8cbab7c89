"""`stripes`: 1–3 coloured bars, horizontal or vertical, on a background of varying brightness.

An example of a third-party comet-zoo dataset plugin. It uses only the public
contract (comet_zoo.data): a class built with keyword options that has `name`,
`size` and `generate(split, n, seed) -> Scenes`.
"""

from __future__ import annotations

import numpy as np

from comet_zoo.data import Scenes, split_rng
from comet_zoo.errors import CometError

COLOURS = np.array([[0.95, 0.3, 0.2], [0.2, 0.7, 0.95], [0.95, 0.85, 0.2], [0.5, 0.9, 0.4]], np.float32)


class StripesDataset:
    name = "stripes"

    def __init__(self, size: int = 32, max_bars: int = 3):
        if not isinstance(size, int) or not 8 <= size <= 512:
            raise CometError(f"stripes: size must be an integer in 8..512, got {size!r}")
        if not 1 <= max_bars <= len(COLOURS):
            raise CometError(f"stripes: max_bars must be in 1..{len(COLOURS)}, got {max_bars}")
        self.size, self.max_bars = size, max_bars

    def generate(self, split: str, n: int, seed: int = 0) -> Scenes:
        rng = split_rng(seed, split)               # train and test draw from independent streams
        s, m = self.size, self.max_bars
        count = rng.integers(1, m + 1, n)                                      # [N]
        vertical = rng.random((n, m)) < 0.5
        start = rng.integers(0, s - s // 4, (n, m))
        width = rng.integers(s // 8, s // 4 + 1, (n, m))
        brightness = rng.uniform(0.0, 0.4, n).astype(np.float32)              # the named factor
        coord = np.arange(s)
        masks = np.zeros((n, s, s), np.int64)                                  # 0 background, 1.. bars
        for j in range(m):  # later bars cover earlier ones
            band = (coord >= start[:, j, None]) & (coord < (start + width)[:, j, None])   # [N, S]
            inside = np.where(vertical[:, j, None, None], band[:, None, :], band[:, :, None])  # [N, S, S]
            masks[inside & (j < count)[:, None, None]] = j + 1
        lut = np.concatenate([np.repeat(brightness[:, None, None], 3, 2), np.broadcast_to(COLOURS[:m], (n, m, 3))], 1)
        images = np.take_along_axis(lut, masks.reshape(n, -1, 1), 1).reshape(n, s, s, 3)
        return Scenes(images.transpose(0, 3, 1, 2).astype(np.float32), masks, brightness[:, None],
                      ["background_brightness"])
