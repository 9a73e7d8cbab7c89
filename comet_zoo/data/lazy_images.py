"""A split of an image collection that reads its images only when a batch asks for them.

    images = collection.lazy("train", seed)
    images.shape                        # (N, 3, S, S), nothing read yet
    x = images[idx]                     # uint8 [B, 3, S, S]: decoded by worker threads
    images.prefetch(next_idx)           # start decoding the next batch while this one trains

The trainer draws batch indices from its own generator; it can compute the next
batch's indices one step early (a copy of the generator's state) and hand them to
`prefetch`, so decoding overlaps the training step and the batches stay exactly the
ones an eager run would draw. Memory holds one or two batches, whatever the size of
the collection.

Random crops draw from a stream keyed by (seed, batch number): a resumed run draws
other crops than an uninterrupted one would (centre crops are exact).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import torch


class LazyImages:
    def __init__(self, collection, indices: np.ndarray, seed: int = 0, on_problem=None):
        self.collection = collection
        self.indices = np.asarray(indices, np.int64)                 # [N] item numbers of the split
        self.seed = seed
        self.on_problem = on_problem
        s = collection.size
        self.shape = torch.Size((len(self.indices), 3, s, s))
        self._draws = 0
        self._ahead: tuple[tuple, Future] | None = None
        self._prefetcher = ThreadPoolExecutor(1, thread_name_prefix="comet-prefetch")

    def __len__(self) -> int:
        return len(self.indices)

    def _read(self, positions: tuple, draw: int) -> torch.Tensor:
        rngs = None
        if self.collection.prep.crop == "random":
            rngs = [np.random.default_rng([self.seed, draw, j]) for j in range(len(positions))]
        images, _ = self.collection.read_many(self.indices[list(positions)], rngs, on_problem=self.on_problem)
        return torch.from_numpy(images)                               # uint8 [B, 3, S, S]

    def prefetch(self, idx) -> None:
        """Start decoding the batch that `self[idx]` will ask for next."""
        key = tuple(int(i) for i in torch.as_tensor(idx).flatten())
        if self._ahead is None or self._ahead[0] != key:
            self._ahead = (key, self._prefetcher.submit(self._read, key, self._draws + 1))

    def __getitem__(self, idx) -> torch.Tensor:
        key = tuple(int(i) for i in torch.as_tensor(idx).flatten())
        self._draws += 1
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == key:
            return ahead[1].result()
        return self._read(key, self._draws)
