"""`mixture`: one data set drawn from several, in stated proportions, at one size.

    {"dataset": "mixture",
     "dataset_options": {"sources": [{"dataset": "clevr", "options": {"max_objects": 4}, "weight": 1},
                                     {"dataset": "clevr-toy", "weight": 1},
                                     {"dataset": "images", "options": {"source": "./photos"}, "weight": 2}]}}

Any source goes: a built-in renderer, an installed plugin, an image collection. A
source may also be a plain name ("clevr"), weight 1. Every source is asked for the
mixture's `size`, so the images stack.

n scenes of a split hold round(n · w_i / Σw) scenes of source i (largest remainders
take the rounding), in an order shuffled by the seed; `Scenes.sources` names each
scene's source. Masks are kept when every source has them; named factors when every
source names the same ones. Source i draws with seed `seed + i · SOURCE_SEED_STEP`
(source 0 with the mixture's own seed: its scenes are the ones it gives alone).

When every source renders scene descriptions (describe / render), so does the
mixture: each description carries its `source`, and `render` hands every one to
its own source, so edited and recombined scenes (a clevr object placed into a toy
scene) render against truth.
"""

from __future__ import annotations

import numpy as np

from ..errors import CometError
from . import Scenes, build_dataset, check_scenes, split_rng

SOURCE_SEED_STEP = 1_000_003
MAX_SOURCES = 16


def quotas(weights: list[float], n: int) -> list[int]:
    """Scenes per source for n in all: proportional to the weights, summing to n exactly."""
    w = np.asarray(weights, np.float64)
    exact = n * w / w.sum()
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    return counts.tolist()


def _parse_source(entry, i: int) -> tuple[str, dict, float]:
    if isinstance(entry, str):
        return entry, {}, 1.0
    if not isinstance(entry, dict) or not isinstance(entry.get("dataset"), str):
        raise CometError(f"mixture: source {i} must be a dataset name or {{dataset, options, weight}}, got {entry!r}")
    unknown = sorted(set(entry) - {"dataset", "options", "weight"})
    if unknown:
        raise CometError(f"mixture: source {i} ({entry['dataset']}) has unknown keys: {', '.join(unknown)}")
    options, weight = entry.get("options") or {}, entry.get("weight", 1.0)
    if not isinstance(options, dict):
        raise CometError(f"mixture: source {i} ({entry['dataset']}): options must be an object")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight < float("inf"):
        raise CometError(f"mixture: source {i} ({entry['dataset']}): weight must be a number > 0, got {weight!r}")
    return entry["dataset"], dict(options), float(weight)


class MixtureDataset:
    """Several data sets as one; see the module docstring. Options: sources, size."""

    name = "mixture"

    def __init__(self, sources: list | None = None, size: int = 64):
        if not isinstance(sources, list) or not 1 <= len(sources) <= MAX_SOURCES:
            raise CometError(f"mixture: sources must be a list of 1..{MAX_SOURCES} data sets, got {sources!r}")
        if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 1024:
            raise CometError(f"mixture: size must be an integer in 8..1024, got {size!r}")
        self.size = size
        parsed = [_parse_source(s, i) for i, s in enumerate(sources)]
        if any(name == self.name for name, _, _ in parsed):
            raise CometError("mixture: a mixture cannot contain another mixture")
        self.names = [name for name, _, _ in parsed]
        self.labels = _unique_labels(self.names)
        self.weights = [w for _, _, w in parsed]
        self.options = [o for _, o, _ in parsed]
        self.datasets = [self._build(name, {**opts, "size": size}) for name, opts, _ in parsed]
        probe_factors = [getattr(d, "factor_names", None) for d in self.datasets]
        self.factor_names = list(probe_factors[0]) if all(f == probe_factors[0] for f in probe_factors) \
            and probe_factors[0] else []
        if self.renders_descriptions:   # describe / render exist only when every source has them
            self.describe, self.render = self._describe, self._render

    @staticmethod
    def _build(name: str, options: dict):
        """A source's data-set object (build_dataset), its errors naming the mixture."""
        try:
            return build_dataset(name, **options)
        except CometError as exc:       # the same class (usage or runtime), with the context
            raise type(exc)(f"mixture: {exc}") from None

    # ---- the contract -------------------------------------------------------------------
    def assignment(self, split: str, n: int, seed: int) -> np.ndarray:
        """Source index of each of the n scenes [n], in the mixture's order."""
        order = np.repeat(np.arange(len(self.datasets)), quotas(self.weights, n))        # [n]
        return order[split_rng(seed, split).permutation(n)]

    def generate(self, split: str, n: int, seed: int = 0) -> Scenes:
        which = self.assignment(split, n, seed)
        parts = {}
        for i, dataset in enumerate(self.datasets):
            count = int((which == i).sum())
            if count:
                scenes = dataset.generate(split, count, seed + i * SOURCE_SEED_STEP)
                parts[i] = check_scenes(scenes, f"mixture source {self.labels[i]}", count)
        return self._interleave(parts, which)

    @property
    def renders_descriptions(self) -> bool:
        return all(hasattr(d, "describe") and hasattr(d, "render") for d in self.datasets)

    def _describe(self, split: str, n: int, seed: int = 0) -> list[dict]:
        which = self.assignment(split, n, seed)
        out: list = [None] * n
        for i, dataset in enumerate(self.datasets):
            where = np.flatnonzero(which == i)
            if len(where):
                for j, d in zip(where, dataset.describe(split, len(where), seed + i * SOURCE_SEED_STEP)):
                    out[j] = {**d, "source": self.labels[i]}
        return out

    def _render(self, descriptions: list[dict]) -> Scenes:
        """Each description by the source it names (`source`; the first source when it names none)."""
        if not isinstance(descriptions, (list, tuple)) or not descriptions:
            raise CometError("mixture: render needs a non-empty list of scene descriptions")
        which = np.array([self._source_index(d) for d in descriptions])
        parts = {}
        for i, dataset in enumerate(self.datasets):
            where = np.flatnonzero(which == i)
            if len(where):
                plain = [{k: v for k, v in descriptions[j].items() if k != "source"} for j in where]
                parts[i] = check_scenes(dataset.render(plain), f"mixture source {self.labels[i]}", len(where))
        scenes = self._interleave(parts, which)
        scenes.descriptions = [dict(d) for d in descriptions]
        return scenes

    def _source_index(self, description: dict) -> int:
        label = description.get("source", self.labels[0]) if isinstance(description, dict) else None
        if label not in self.labels:
            raise CometError(f"mixture: scene description names source {label!r}; sources: {', '.join(self.labels)}")
        return self.labels.index(label)

    # ---- assembling ---------------------------------------------------------------------
    def _interleave(self, parts: dict[int, Scenes], which: np.ndarray) -> Scenes:
        """One Scenes in the mixture's order from each source's scenes (in their own order)."""
        n = len(which)
        first = next(iter(parts.values()))
        images = np.empty((n, *first.images.shape[1:]), np.float32)               # [n, 3, S, S]
        for i, scenes in parts.items():
            if scenes.images.shape[1:] != first.images.shape[1:]:
                raise CometError(f"mixture: source {self.labels[i]} gives {scenes.images.shape[-1]}px images, "
                                 f"the others {first.images.shape[-1]}px; every source must render size {self.size}")
            images[which == i] = scenes.images
        masks = None
        if all(s.masks is not None for s in parts.values()):
            masks = np.zeros((n, *first.images.shape[2:]), np.int64)               # [n, S, S]
            for i, scenes in parts.items():
                masks[which == i] = scenes.masks
        factors = None
        if self.factor_names and all(s.factors is not None and s.factor_names == self.factor_names
                                     for s in parts.values()):
            factors = np.zeros((n, len(self.factor_names)), np.float32)            # [n, F]
            for i, scenes in parts.items():
                factors[which == i] = scenes.factors
        descriptions = None
        if all(s.descriptions is not None for s in parts.values()):
            descriptions = [None] * n
            for i, scenes in parts.items():
                for j, d in zip(np.flatnonzero(which == i), scenes.descriptions):
                    descriptions[j] = {**d, "source": self.labels[i]}
        return Scenes(images, masks, factors, list(self.factor_names) if factors is not None else [], descriptions,
                      sources=[self.labels[i] for i in which])


def _unique_labels(names: list[str]) -> list[str]:
    """Each source's label: its data-set name, numbered when a name repeats (images, images#2)."""
    labels = []
    for name in names:
        label, k = name, 2
        while label in labels:
            label, k = f"{name}#{k}", k + 1
        labels.append(label)
    return labels
