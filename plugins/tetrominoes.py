"""`tetrominoes`: 3 tetromino pieces in solid colours on black, 35×35, with masks.

After the Tetrominoes set of the Multi-Object Datasets (Greff et al. 2019) that COMET
is evaluated on: 19 piece orientations, 6 colours, blocks of 5×5 pixels, pieces that
never overlap. Geometry lives on a 35×35 grid of units; `size` other than 35 samples
that grid at the pixel centres, so any size shows the same scenes.

Scenes are discrete, so two draws could coincide: a scene belongs to the test split
iff a hash of its content says so, which keeps train and test disjoint by construction.
"""

from __future__ import annotations

import zlib

import numpy as np
from comet_zoo.plugins.clevr import CHUNK, check_size, chunk_rng

from comet_zoo.data import Scenes
from comet_zoo.errors import CometError

UNITS, BLOCK = 35, 5
# 19 fixed orientations as (row, col) block offsets, named by letter and turn
PIECES = {
    "I0": [(0, 0), (0, 1), (0, 2), (0, 3)], "I1": [(0, 0), (1, 0), (2, 0), (3, 0)],
    "O0": [(0, 0), (0, 1), (1, 0), (1, 1)],
    "T0": [(0, 0), (0, 1), (0, 2), (1, 1)], "T1": [(0, 1), (1, 0), (1, 1), (2, 1)],
    "T2": [(1, 0), (1, 1), (1, 2), (0, 1)], "T3": [(0, 0), (1, 0), (2, 0), (1, 1)],
    "S0": [(0, 1), (0, 2), (1, 0), (1, 1)], "S1": [(0, 0), (1, 0), (1, 1), (2, 1)],
    "Z0": [(0, 0), (0, 1), (1, 1), (1, 2)], "Z1": [(0, 1), (1, 0), (1, 1), (2, 0)],
    "L0": [(0, 0), (1, 0), (2, 0), (2, 1)], "L1": [(0, 0), (0, 1), (0, 2), (1, 0)],
    "L2": [(0, 0), (0, 1), (1, 1), (2, 1)], "L3": [(0, 2), (1, 0), (1, 1), (1, 2)],
    "J0": [(0, 1), (1, 1), (2, 1), (2, 0)], "J1": [(0, 0), (1, 0), (1, 1), (1, 2)],
    "J2": [(0, 0), (0, 1), (1, 0), (2, 0)], "J3": [(0, 0), (0, 1), (0, 2), (1, 2)],
}
NAMES = list(PIECES)
CELLS = np.array([PIECES[k] for k in NAMES]) * BLOCK                       # [19, 4, 2] in units
SPAN = CELLS.max(1) + BLOCK                                                 # [19, 2] piece height, width
COLOURS = {"red": (0.9, 0.15, 0.15), "green": (0.15, 0.8, 0.2), "blue": (0.2, 0.35, 0.95),
           "yellow": (0.95, 0.9, 0.15), "magenta": (0.9, 0.2, 0.85), "cyan": (0.15, 0.85, 0.9)}
TEST_FRACTION = 10          # 1 scene in 10, by content hash, is a test scene


class TetrominoesDataset:
    """Options: size (default 35), pieces (default 3, 1..6)."""

    name = "tetrominoes"
    factor_names: list[str] = []

    def __init__(self, size: int = 35, pieces: int = 3):
        self.size = check_size(self.name, size)
        if not isinstance(pieces, int) or not 1 <= pieces <= len(COLOURS):
            raise CometError(f"{self.name}: pieces must be an integer in 1..{len(COLOURS)}, got {pieces!r}")
        self.pieces = pieces

    def generate(self, split: str, n: int, seed: int = 0) -> Scenes:
        return self.render(self.describe(split, n, seed))

    def describe(self, split: str, n: int, seed: int = 0) -> list[dict]:
        """Descriptions {"pieces": [{"shape", "colour", "rgb", "position": [row, col]}]} (units of 1/35)."""
        out, chunk = [], 0
        while len(out) < n:
            for desc in self._sample(chunk_rng(seed, split, chunk, 4), CHUNK):
                if self.split_of(desc) == split:
                    out.append(desc)
            chunk += 1
        return out[:n]

    @staticmethod
    def split_of(description: dict) -> str:
        key = repr([(p["shape"], p["colour"], p["position"]) for p in description["pieces"]])
        return "test" if zlib.crc32(key.encode()) % TEST_FRACTION == 0 else "train"

    def _sample(self, rng, n):
        m = self.pieces
        shape = rng.integers(0, len(NAMES), (n, m))
        colour = np.argsort(rng.random((n, len(COLOURS))), 1)[:, :m]       # distinct colours
        pos = np.zeros((n, m, 2), np.int64)
        pending = np.arange(n)
        while len(pending):  # earlier pieces can leave no room for a long one: such scenes restart
            failed = pending[:0]
            for j in range(m):  # resample piece j where it overlaps an earlier piece
                todo = np.setdiff1d(pending, failed)
                for _ in range(100):
                    span = SPAN[shape[todo, j]]                                 # [T, 2]
                    pos[todo, j] = (rng.random((len(todo), 2)) * (UNITS - span + 1)).astype(np.int64)
                    if j == 0:
                        break
                    cells = CELLS[shape[todo, :j + 1]] + pos[todo, :j + 1, None]   # [T, j+1, 4, 2]
                    new = cells[:, j][:, :, None, None, :]                      # [T, 4, 1, 1, 2]
                    old = cells[:, :j][:, None]                                 # [T, 1, j, 4, 2]
                    todo = todo[(np.abs(new - old) < BLOCK).all(-1).reshape(len(todo), -1).any(1)]
                    if not len(todo):
                        break
                failed = np.union1d(failed, todo if j else todo[:0])
            pending = failed
        names = list(COLOURS)
        return [{"pieces": [{"shape": NAMES[shape[i, j]], "colour": names[colour[i, j]],
                             "rgb": list(COLOURS[names[colour[i, j]]]), "position": pos[i, j].tolist()}
                            for j in range(m)]} for i in range(n)]

    def render(self, descriptions: list[dict]) -> Scenes:
        """Descriptions → Scenes (images on black, masks: piece i is label i + 1, later pieces on top)."""
        if not isinstance(descriptions, (list, tuple)) or not descriptions:
            raise CometError(f"{self.name}: render needs a non-empty list of scene descriptions")
        n, s = len(descriptions), self.size
        m = max(len(d["pieces"]) for d in descriptions)
        try:
            shape = np.array([[NAMES.index(p["shape"]) for p in d["pieces"]] + [0] * (m - len(d["pieces"]))
                              for d in descriptions])                      # [N, M]
            pos = np.array([[p["position"] for p in d["pieces"]] + [[-99, -99]] * (m - len(d["pieces"]))
                            for d in descriptions], np.int64)               # [N, M, 2]
            rgb = np.array([[p.get("rgb") or COLOURS[p["colour"]] for p in d["pieces"]] + [[0, 0, 0]] * (m - len(d["pieces"]))
                            for d in descriptions], np.float32)             # [N, M, 3]
        except (KeyError, ValueError, TypeError) as exc:
            raise CometError(f"{self.name}: invalid piece description: {exc}") from None
        centre = (np.arange(s) + 0.5) * UNITS / s                            # pixel centres in units [S]
        cells = CELLS[shape] + pos[:, :, None]                               # [N, M, 4, 2]
        in_r = (centre >= cells[..., 0, None]) & (centre < cells[..., 0, None] + BLOCK)   # [N, M, 4, S]
        in_c = (centre >= cells[..., 1, None]) & (centre < cells[..., 1, None] + BLOCK)
        inside = (in_r[..., :, None] & in_c[..., None, :]).any(2)          # [N, M, S, S]
        masks = np.zeros((n, s, s), np.int64)
        for j in range(m):
            masks[inside[:, j]] = j + 1
        lut = np.concatenate([np.zeros((n, 1, 3), np.float32), rgb], 1)    # [N, M+1, 3]
        images = np.take_along_axis(lut, masks.reshape(n, -1, 1), 1).reshape(n, s, s, 3)
        return Scenes(images.transpose(0, 3, 1, 2).copy(), masks, None, [], list(descriptions))
