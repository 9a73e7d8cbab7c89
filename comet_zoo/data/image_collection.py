"""`images`: your own images as a comet-zoo data set, read lazily from disk.

    comet train --data ./photos --size 64 --components 4 --out runs/mine
    {"dataset": "images", "dataset_options": {"source": "./photos", "crop": "random"}}

`source` is a folder tree of image files (the Hugging Face `imagefolder` conventions:
metadata.jsonl / .csv, masks/; see comet_zoo.data.image_sources), `hf:ORG/NAME`, a
`save_to_disk` folder or parquet files. Options:

    size            side of the square images the model sees (default 64)
    crop            center | random | none: the square cut after resizing the shorter side
    background      RGB in [0, 1] under transparent pixels (default white)
    upscale         false: images smaller than `size` are skipped (or refused, strict); true: enlarged
    test_fraction   share of images held out by the hash of their name (default 0.1); a source
                    with its own train / test splits (train/ and test/ folders, a DatasetDict)
                    keeps them
    image_column, mask_column, factor_columns, hf_config, hf_split, cache_dir: Hugging Face datasets
    strict          refuse the collection at its first bad file instead of skipping it
    verify          full | header | auto: decode every image up front, or read its header only
                    (auto: full up to 20 000 images; beyond, headers of a folder's files, and a
                    Hugging Face dataset's rows only as batches read them)
    max_pixels      larger images are refused as decompression bombs (default 50 million)
    workers         threads that decode a training batch (and the next one, ahead of time)

Bad data, stated policy: a file that is empty, not an image, unreadable, corrupt or
truncated, too large (a decompression bomb), smaller than `size`, without the mask or
metadata row the others have, is skipped and counted (`problems`, `summary()`); with
`strict` the first one is refused with its name. An empty folder, a collection with no
usable image, a split with none, asking for more images than a split holds, or an HF
dataset with no image column is always a one-line error. Mixed modes (grayscale,
palette, alpha, 16-bit beside RGB) are converted and counted; `strict` refuses them.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import CometError, CometRuntimeError
from . import Scenes
from .hash_split import check_fraction, split_of
from .image_sources import ArrowSource, FolderSource, is_hf_source
from .preprocess import Preprocess

FULL_VERIFY_UP_TO = 20_000
DEFAULT_MAX_PIXELS = 50_000_000
SPLIT_FOLDERS = {"train": ("train",), "test": ("test", "validation", "valid", "val")}


class ImageProblem(Exception):
    """One unusable file: skipped and counted, or (strict) refused."""


class ImageCollectionDataset:
    """A folder or Hugging Face dataset of images; see the module docstring."""

    name = "images"

    def __init__(self, source: str = "", size: int = 64, crop: str = "center", background=(1.0, 1.0, 1.0),
                 upscale: bool = False, test_fraction: float = 0.1, image_column: str | None = None,
                 mask_column: str | None = None, factor_columns: list | None = None, hf_config: str | None = None,
                 hf_split: str | None = None, cache_dir: str | None = None, strict: bool = False,
                 verify: str = "auto", max_pixels: int = DEFAULT_MAX_PIXELS, workers: int = 4):
        if not isinstance(source, str) or not source:
            raise CometError("images: give the collection as source: a folder, hf:ORG/NAME, a save_to_disk folder "
                             "or parquet files")
        if verify not in ("full", "header", "auto"):
            raise CometError(f"images: verify must be full, header or auto, got {verify!r}")
        if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 64:
            raise CometError(f"images: max_pixels must be an integer >= 64, got {max_pixels!r}")
        if factor_columns is not None and not (isinstance(factor_columns, list)
                                               and all(isinstance(c, str) for c in factor_columns)):
            raise CometError(f"images: factor_columns must be a list of column names, got {factor_columns!r}")
        self.source_spec = source
        self.prep = Preprocess(size=size, crop=crop, background=tuple(background), upscale=bool(upscale))
        self.size = self.prep.size
        self.test_fraction = check_fraction(test_fraction)
        self.strict, self.max_pixels = bool(strict), max_pixels
        self.workers = max(1, int(workers))
        if is_hf_source(source):
            self.source = ArrowSource(source, image_column=image_column, mask_column=mask_column,
                                      factor_columns=factor_columns, hf_config=hf_config, hf_split=hf_split,
                                      cache_dir=cache_dir)
        else:
            if any(v is not None for v in (image_column, mask_column, hf_config, hf_split)):
                raise CometError(f"images: image_column, mask_column, hf_config and hf_split are for Hugging Face "
                                 f"datasets; {source} is an image folder")
            self.source = FolderSource(source, factor_columns)
        items = self.source.items()
        self.keys, self.description = items.keys, items.description
        self.factor_names = list(items.factor_names)
        self._factors, self.has_masks = items.factors, items.has_masks
        self.problems: list[tuple[str, str]] = []      # (file or row, why it was skipped)
        self.modes: Counter = Counter()
        full = verify == "full" or (verify == "auto" and len(self.keys) <= FULL_VERIFY_UP_TO)
        if verify == "auto" and not full and isinstance(self.source, ArrowSource):
            # A large memory-mapped table: checking every row up front would page all of it in
            # (resident, if reclaimable); its rows are checked as batches read them instead.
            good = np.arange(len(self.keys), dtype=np.int64)
        else:
            good = self._scan(full)
        self._splits = self._split(good, items.splits)

    # ---- building the index ---------------------------------------------------------------
    def _scan(self, full: bool) -> np.ndarray:
        """Indices of the usable items; every other one recorded in `problems` (or refused)."""
        no_row = set(self.source.missing_metadata())
        ok = []
        for i, key in enumerate(self.keys):
            try:
                mode = self._check(i, full)
                if key in no_row:
                    raise ImageProblem("no row in the metadata (its factors are unknown)")
                if self.has_masks and self.source.mask_file(i) is None:
                    raise ImageProblem("no mask (the other images have one)")
            except ImageProblem as exc:
                self._problem(key, str(exc))
                continue
            self.modes[mode] += 1
            ok.append(i)
        if self.strict and len(self.modes) > 1:
            common = self.modes.most_common(1)[0][0]
            odd = next(self.keys[i] for i in ok if self._mode_of(i) != common)
            raise CometError(f"{odd}: mode {self._mode_of(self.keys.index(odd))} among {common} images "
                             f"(mixed modes: {self.mode_summary()}); strict refuses them, without it they are "
                             "converted to RGB")
        if not ok:
            reasons = Counter(r.split(" (")[0] for _, r in self.problems)
            raise CometError(f"no usable images in {self.source_spec}: {len(self.problems)} skipped "
                             f"({'; '.join(f'{n} {r}' for r, n in reasons.most_common())})")
        return np.asarray(ok, np.int64)

    def _mode_of(self, i: int) -> str:
        with Image.open(self.source.image_file(i)) as im:
            return im.mode

    def _problem(self, key: str, reason: str) -> None:
        if self.strict:
            raise CometRuntimeError(f"{key}: {reason} (strict refuses; without it such files are skipped and counted)")
        self.problems.append((key, reason))

    def _check(self, i: int, full: bool) -> str:
        """The image's mode if item i is usable, else ImageProblem saying why not."""
        f = self.source.image_file(i)
        if f is None:
            raise ImageProblem("no image in this row")
        if isinstance(f, str):
            try:
                if os.path.getsize(f) == 0:
                    raise ImageProblem("empty file (0 bytes)")
            except OSError as exc:
                raise ImageProblem(f"unreadable ({exc.strerror or exc})") from None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(f) as im:
                    w, h = im.size
                    if w * h > self.max_pixels:
                        raise ImageProblem(f"too many pixels, {w}x{h} > {self.max_pixels} (a decompression bomb?)")
                    if self.prep.too_small(w, h):
                        raise ImageProblem(f"smaller than {self.size} px ({w}x{h}); upscale: true enlarges such images")
                    if full:
                        im.load()
                    return im.mode
        except ImageProblem:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageProblem("too many pixels (a decompression bomb)") from None
        except UnidentifiedImageError:
            raise ImageProblem("not an image (or an unsupported format)") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageProblem(f"corrupt or truncated ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") \
                from None

    def _split(self, good: np.ndarray, own: dict | None) -> dict[str, np.ndarray]:
        """train / test indices: the source's own splits (split folders, a DatasetDict), else by name hash."""
        usable = set(good.tolist())
        if own is None:
            own = self._folder_splits()
        if own is not None:
            splits = {s: np.asarray([i for i in own[s] if i in usable], np.int64) for s in ("train", "test")}
        else:
            test = np.array([split_of(self.keys[i], self.test_fraction) == "test" for i in good], bool)
            splits = {"train": good[~test], "test": good[test]}
        for split, idx in splits.items():
            if not len(idx):
                hint = "" if own is not None else f" (test_fraction {self.test_fraction} of {len(good)} images)"
                raise CometError(f"{self.source_spec}: no usable {split} images{hint}; add images"
                                 + ("" if own is not None or split == "train" else " or raise test_fraction"))
        return splits

    def _folder_splits(self) -> dict | None:
        """train/ and test/ (or validation/) top-level folders: the collection's own splits."""
        if not isinstance(self.source, FolderSource):
            return None
        tops = {k.split("/", 1)[0] for k in self.keys if "/" in k}
        train = next((t for t in SPLIT_FOLDERS["train"] if t in tops), None)
        test = next((t for t in SPLIT_FOLDERS["test"] if t in tops), None)
        if train is None or test is None:
            return None
        return {"train": [i for i, k in enumerate(self.keys) if k.startswith(train + "/")],
                "test": [i for i, k in enumerate(self.keys) if k.startswith(test + "/")]}

    # ---- what it holds ----------------------------------------------------------------------
    def count(self, split: str) -> int:
        return len(self._indices(split))

    def _indices(self, split: str) -> np.ndarray:
        if split not in self._splits:
            raise CometError(f"unknown split {split!r}; known: train, test")
        return self._splits[split]

    def mode_summary(self) -> str:
        return ", ".join(f"{n} {mode}" for mode, n in self.modes.most_common())

    def summary(self) -> str:
        """One line: what is used, what was skipped and why, what was converted."""
        text = (f"{self.source_spec}: {self.count('train')} train and {self.count('test')} test images "
                f"at {self.size} px")
        if self.problems:
            reasons = Counter(r.split(" (")[0].split(",")[0] for _, r in self.problems)
            text += (f"; skipped {len(self.problems)} (" + "; ".join(f"{n} {r}" for r, n in reasons.most_common())
                     + f", e.g. {self.problems[0][0]})")
        if len(self.modes) > 1:
            text += f"; modes {self.mode_summary()} converted to RGB"
        return text

    def card_source(self) -> dict:
        """How a published card names this data: honestly, never as a benchmark."""
        out = {"kind": "hf" if self.source_spec.startswith("hf:") else type(self.source).__name__,
               "description": self.description, "files": len(self.keys), "images": len(self.keys) - len(self.problems),
               "train": self.count("train"), "test": self.count("test")}
        if self.source_spec.startswith("hf:"):
            out["hf_id"] = self.source_spec[3:]
        else:
            out["sha256"] = self.source.content_hash()
        return out

    # ---- reading ------------------------------------------------------------------------------
    def read(self, i: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Item i → (uint8 [3, S, S], int64 [S, S] mask or None); ImageProblem when it cannot be read."""
        f = self.source.image_file(i)
        mask_file = self.source.mask_file(i) if self.has_masks else None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(f) as im:
                    if im.size[0] * im.size[1] > self.max_pixels:
                        raise ImageProblem("too many pixels (a decompression bomb?)")
                    if mask_file is None and im.format == "JPEG" and self.prep.crop != "none":
                        im.draft("RGB", (self.size, self.size))       # decode at a reduced scale: much faster
                    array, box = self.prep.image(im, rng)
                    oriented = im
                    mask = None
                    if mask_file is not None:
                        mask = self._mask(mask_file, box, oriented)
        except ImageProblem:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageProblem("too many pixels (a decompression bomb)") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageProblem(f"corrupt or truncated ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") \
                from None
        return array, mask

    def _mask(self, mask_file, box, oriented) -> np.ndarray:
        if isinstance(mask_file, np.ndarray):                                      # an Array2D mask [H, W]
            mask_image = Image.fromarray(mask_file.astype(np.int32), mode="I")
            return self.prep.mask(mask_image, box)
        with Image.open(mask_file) as m:
            return self.prep.mask(m, box, oriented)

    def read_many(self, indices, rngs=None, on_problem=None) -> tuple[np.ndarray, np.ndarray | None]:
        """Items → (uint8 [n, 3, S, S], int64 [n, S, S] or None), decoded by `workers` threads.
        An item that fails is replaced by the next readable one of the same split (and
        reported to `on_problem(key, reason)`), or refused when strict."""
        indices = [int(i) for i in indices]
        rngs = rngs or [None] * len(indices)
        results = self._pool_map(lambda args: self._read_or_replace(*args, on_problem=on_problem),
                                 list(zip(indices, rngs)))
        images = np.stack([r[0] for r in results])                                  # [n, 3, S, S]
        masks = np.stack([r[1] for r in results]) if self.has_masks else None       # [n, S, S]
        return images, masks

    def _pool_map(self, fn, args: list):
        if self.workers == 1 or len(args) < 2:
            return [fn(a) for a in args]
        if getattr(self, "_pool", None) is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="comet-images")
        return list(self._pool.map(fn, args))

    def _read_or_replace(self, i: int, rng, on_problem=None):
        tried = 0
        split = self._split_of_index(i)
        while True:
            try:
                return self.read(i, rng)
            except ImageProblem as exc:
                key = self.keys[i]
                if self.strict:
                    raise CometRuntimeError(f"{key}: {exc} (strict refuses; without it such files are skipped)") \
                        from None
                if (key, str(exc)) not in self.problems:
                    self.problems.append((key, str(exc)))
                    if on_problem is not None:
                        on_problem(key, str(exc))
                tried += 1
                if tried >= len(split):
                    raise CometRuntimeError(f"no readable image left in {self.source_spec}") from None
                i = int(split[(np.searchsorted(split, i) + 1) % len(split)])

    def _split_of_index(self, i: int) -> np.ndarray:
        for idx in self._splits.values():
            pos = np.searchsorted(idx, i)
            if pos < len(idx) and idx[pos] == i:
                return idx
        return np.asarray([i])

    # ---- the dataset contract -----------------------------------------------------------------
    def generate(self, split: str, n: int, seed: int = 0) -> Scenes:
        """n images of a split, in an order the seed shuffles (the same n for the same seed)."""
        idx = self._indices(split)
        if n > len(idx):
            raise CometError(f"{self.source_spec} has {len(idx)} usable {split} images; asked for {n}"
                             + (f" (skipped {len(self.problems)} bad files)" if self.problems else ""))
        rng = np.random.default_rng([seed, 0 if split == "train" else 1, 0x1A6E])
        chosen = idx[np.sort(rng.permutation(len(idx))[:n])] if n < len(idx) else idx
        rngs = [np.random.default_rng([seed, int(i)]) for i in chosen] if self.prep.crop == "random" else None
        images, masks = self.read_many(chosen, rngs)
        factors = None
        if self._factors is not None:
            factors = self._factors[chosen]
        return Scenes(images.astype(np.float32) / 255.0, masks, factors,
                      list(self.factor_names) if factors is not None else [])

    def image(self, split: str, index: int) -> np.ndarray:
        """Image `index` of a split (in file-name order) as the model sees it: float32 [3, S, S]."""
        idx = self._indices(split)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(idx):
            raise CometError(f"{self.source_spec}: the {split} split has images 0..{len(idx) - 1}, got {index!r}")
        images, _ = self.read_many([idx[index]])
        return images[0].astype(np.float32) / 255.0

    def lazy(self, split: str, seed: int = 0) -> "LazyImages":
        """The split as an indexable of uint8 images, read from disk when indexed (training)."""
        from .lazy_images import LazyImages

        return LazyImages(self, self._indices(split), seed)
