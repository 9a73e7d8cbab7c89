"""Where an image collection's files come from: a folder tree, or a Hugging Face dataset.

Both are read lazily: a source lists its items (a file path, or a row of a
memory-mapped Arrow table) and opens one item's image, mask and factors on demand.

Folder (the Hugging Face `imagefolder` conventions):

    photos/
      metadata.jsonl        optional: {"file_name": "a/1.png", "pose": 0.3, ...} per line
                            (or metadata.csv with a file_name column); numeric columns are
                            the images' factors; a `mask_file_name` column names a mask
      a/1.png  a/2.jpg  b/3.webp ...         any depth; .png .jpg .jpeg .webp .bmp
      masks/a/1.png ...     optional: integer PNG labels (0 = background), same relative path

Hugging Face dataset: `hf:ORG/NAME` (datasets.load_dataset: its cache and offline mode,
HF_DATASETS_OFFLINE=1, apply), a folder written by `save_to_disk` (memory-mapped), or
parquet files (a file or a folder of them; `train*` / `test*` file names are splits).
Its image column (an `Image` feature, or a column named like one), mask column and
factor columns (numbers, class labels) are guessed unless named.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CometError, CometRuntimeError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
MASK_FOLDER = "masks"
IMAGE_COLUMN_NAMES = ("image", "img", "picture", "photo", "pixel_values", "png", "jpg", "jpeg")
MASK_COLUMN_NAMES = ("mask", "masks", "segmentation", "label_mask", "instance_mask", "annotation")
RESERVED = {"file_name", "mask_file_name"}


@dataclass
class Items:
    """What a source holds: one entry per image, in a fixed order."""
    keys: list[str]                                     # per image: its name in messages and in the hash split
    splits: dict[str, list[int]] | None = None          # the source's own splits (train / test), if it has them
    factors: np.ndarray | None = None                   # float32 [N, F]
    factor_names: list[str] = field(default_factory=list)
    has_masks: bool = False
    description: str = ""                               # e.g. "a local image folder"


# ---- folders --------------------------------------------------------------------------------
class FolderSource:
    """A folder tree of image files, with optional metadata and masks."""

    def __init__(self, root: str | Path, factor_columns: list[str] | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise CometError(f"image folder not found: {self.root}")
        files = sorted(p.relative_to(self.root).as_posix() for p in _walk(self.root)
                       if p.suffix.lower() in IMAGE_SUFFIXES and p.relative_to(self.root).parts[0] != MASK_FOLDER)
        if not files:
            raise CometError(f"no images in {self.root} (looked for {' '.join(IMAGE_SUFFIXES)} files, recursively)")
        self.files = files
        rows = self._metadata()
        self.mask_files: dict[str, str] = {}
        masks_dir = self.root / MASK_FOLDER
        if masks_dir.is_dir():
            by_stem = {str(Path(p.relative_to(masks_dir).as_posix()).with_suffix("")): p.relative_to(self.root).as_posix()
                       for p in _walk(masks_dir) if p.suffix.lower() in IMAGE_SUFFIXES}
            self.mask_files = {f: by_stem[str(Path(f).with_suffix(""))] for f in files
                               if str(Path(f).with_suffix("")) in by_stem}
        for name, row in (rows or {}).items():
            if row.get("mask_file_name"):
                mask = str(row["mask_file_name"])
                if not (self.root / mask).is_file():
                    raise CometError(f"{self._metadata_path}: mask_file_name {mask!r} of {name} does not exist")
                self.mask_files[name] = mask
        self.rows = rows
        self.factor_names, self.factors = _factor_table(files, rows, factor_columns, str(self._metadata_path))

    def _metadata(self) -> dict[str, dict] | None:
        """file_name → row of metadata.jsonl / metadata.csv; each named file must exist."""
        jsonl, csv_path = self.root / "metadata.jsonl", self.root / "metadata.csv"
        self._metadata_path = jsonl if jsonl.is_file() else csv_path
        if not self._metadata_path.is_file():
            return None
        path = self._metadata_path
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CometRuntimeError(f"cannot read {path}: {exc}") from None
        rows: list[dict] = []
        if path.suffix == ".jsonl":
            for n, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        row = json.loads(line)
                    except ValueError as exc:
                        raise CometError(f"{path}:{n}: not a JSON object ({exc})") from None
                    if not isinstance(row, dict):
                        raise CometError(f"{path}:{n}: not a JSON object")
                    rows.append(row)
        else:
            rows = [dict(r) for r in csv.DictReader(io.StringIO(text))]
        if rows and not all("file_name" in r for r in rows):
            raise CometError(f"{path}: every row needs a file_name column; columns: {', '.join(sorted(rows[0]))}")
        out = {}
        for row in rows:
            name = Path(str(row["file_name"])).as_posix()
            if not (self.root / name).is_file():
                raise CometError(f"{path}: file_name {name!r} does not exist in {self.root}")
            out[name] = row
        return out

    def items(self) -> Items:
        return Items(keys=list(self.files), factors=self.factors, factor_names=self.factor_names,
                     has_masks=bool(self.mask_files), description="a local image folder")

    def image_file(self, i: int):
        return str(self.root / self.files[i])

    def mask_file(self, i: int):
        name = self.mask_files.get(self.files[i])
        return None if name is None else str(self.root / name)

    def missing_metadata(self) -> list[str]:
        """Images that the metadata has no row for (when there is metadata with factors)."""
        if self.rows is None or not self.factor_names:
            return []
        return [f for f in self.files if f not in self.rows]

    def content_hash(self) -> str:
        """SHA-256 over every image's relative path and bytes: names this collection in a card."""
        import hashlib

        h = hashlib.sha256()
        for name in self.files:
            h.update(name.encode() + b"\0")
            try:
                with open(self.root / name, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
            except OSError:
                h.update(b"<unreadable>")
        return h.hexdigest()


def _walk(root: Path):
    """Every file under root (following no symlinked folders), hidden files and folders skipped."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith("."):
                yield Path(folder) / name


def _is_number(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return np.isfinite(value)
    try:
        return np.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _factor_table(files: list[str], rows: dict | None, wanted: list[str] | None, where: str):
    """(names, float32 [N, F] or None): the metadata's numeric columns (or those asked for)."""
    if not rows:
        if wanted:
            raise CometError(f"factor columns {', '.join(wanted)} asked for, but there is no metadata.jsonl / .csv")
        return [], None
    columns = sorted({k for r in rows.values() for k in r} - RESERVED)
    if wanted is not None:
        missing = [c for c in wanted if c not in columns]
        if missing:
            raise CometError(f"{where}: no column {missing[0]!r}; columns: {', '.join(columns) or 'none'}")
        bad = [c for c in wanted if not all(_is_number(r.get(c)) for r in rows.values())]
        if bad:
            raise CometError(f"{where}: factor column {bad[0]!r} is not a number in every row")
        names = list(wanted)
    else:
        names = [c for c in columns if all(_is_number(r.get(c)) for r in rows.values())]
    if not names:
        return [], None
    table = np.full((len(files), len(names)), np.nan, np.float32)                  # [N, F]; NaN: no row
    index = {f: i for i, f in enumerate(files)}
    for name, row in rows.items():
        if name in index:
            table[index[name]] = [float(row[c]) for c in names]
    return names, table


# ---- Hugging Face datasets -------------------------------------------------------------------
class ArrowSource:
    """A Hugging Face dataset (hub id, save_to_disk folder or parquet), memory-mapped Arrow."""

    def __init__(self, spec: str, *, image_column: str | None = None, mask_column: str | None = None,
                 factor_columns: list[str] | None = None, hf_config: str | None = None, hf_split: str | None = None,
                 cache_dir: str | None = None):
        self.spec = spec
        parts = _open_hf(spec, hf_config, hf_split, cache_dir)              # split name → datasets.Dataset
        first = next(iter(parts.values()))
        features = first.features
        self.image_column = _image_column(features, image_column, spec)
        self.mask_column = _mask_column(features, mask_column, self.image_column, spec)
        self.factor_names = _hf_factor_columns(features, factor_columns, {self.image_column, self.mask_column}, spec)
        import datasets

        names = list(parts)
        tables = []
        for name in names:
            ds = parts[name]
            missing = [c for c in (self.image_column, self.mask_column, *self.factor_names) if c and c not in ds.column_names]
            if missing:
                raise CometError(f"{spec}: split {name} has no column {missing[0]!r}; columns: {', '.join(ds.column_names)}")
            tables.append(ds.flatten_indices() if ds._indices is not None else ds)   # row i = Arrow row i
        self.table = datasets.concatenate_datasets(tables) if len(tables) > 1 else tables[0]
        offsets = np.cumsum([0] + [len(t) for t in tables])
        self.own_splits = None
        if len(names) > 1:
            self.own_splits = {n: list(range(offsets[i], offsets[i + 1])) for i, n in enumerate(names)}
        self.split_names = names
        self.offsets = offsets
        factors = None
        if self.factor_names:
            arrow = self.table.data   # the raw columns: formatting rows would read every image too
            factors = np.stack([np.asarray(arrow.column(c).to_numpy(), np.float32) for c in self.factor_names], 1)  # [N, F]
        self.factors = factors
        # The raw Arrow columns, memory-mapped: a row is read (and its image decoded, by us,
        # under our bad-data policy) only when a batch asks for it; nothing is cast or copied.
        arrow = self.table.data
        self._images = arrow.column(self.image_column)
        self._masks = arrow.column(self.mask_column) if self.mask_column else None

    def items(self) -> Items:
        keys = []
        for i, name in enumerate(self.split_names):
            keys += [f"{name}[{r}]" for r in range(self.offsets[i + 1] - self.offsets[i])]
        splits = None
        if self.own_splits is not None:
            train = [n for n in self.own_splits if n == "train"]
            test = [n for n in self.own_splits if n == "test"] or [n for n in self.own_splits if n == "validation"]
            if train and test:
                splits = {"train": self.own_splits[train[0]], "test": self.own_splits[test[0]]}
        where = self.spec if self.spec.startswith("hf:") else "a local Hugging Face dataset"
        return Items(keys=keys, splits=splits, factors=self.factors, factor_names=list(self.factor_names),
                     has_masks=self.mask_column is not None, description=where)

    def image_file(self, i: int):
        return _as_file(self._images[int(i)].as_py())

    def mask_file(self, i: int):
        if self._masks is None:
            return None
        value = self._masks[int(i)].as_py()
        if isinstance(value, (list, np.ndarray)):                                 # an Array2D mask
            return np.asarray(value, np.int64)
        return _as_file(value)

    def missing_metadata(self) -> list[str]:
        return []

    def content_hash(self) -> str:
        import hashlib

        h = hashlib.sha256()
        for cache in self.table.cache_files:
            h.update(Path(cache["filename"]).name.encode())
        h.update(str(self.table._fingerprint).encode())
        return h.hexdigest()


def _as_file(value):
    """An Arrow image cell ({"bytes", "path"}, a PIL image, raw bytes) → something PIL opens."""
    if value is None:
        return None
    if isinstance(value, dict):
        if value.get("bytes"):
            return io.BytesIO(value["bytes"])
        return value.get("path")
    if isinstance(value, (bytes, bytearray)):
        return io.BytesIO(value)
    return value   # a PIL image (a feature we did not cast)


def is_hf_source(source: str) -> bool:
    """hf:ORG/NAME, a save_to_disk folder, or parquet files: read through `datasets`."""
    if source.startswith("hf:"):
        return True
    path = Path(source)
    if path.is_file():
        return path.suffix == ".parquet"
    if not path.is_dir():
        return False
    if any((path / name).is_file() for name in ("dataset_dict.json", "state.json", "dataset_info.json")):
        return True
    return any(path.rglob("*.parquet")) and not any(p.suffix.lower() in IMAGE_SUFFIXES for p in _walk(path))


def _open_hf(spec: str, config: str | None, split: str | None, cache_dir: str | None) -> dict:
    """split name → datasets.Dataset, each memory-mapped Arrow."""
    try:
        import datasets
    except ImportError:
        raise CometError("reading Hugging Face datasets needs the `datasets` package: pip install 'comet-zoo[data]'") \
            from None
    try:
        if spec.startswith("hf:"):
            repo = spec[3:]
            if not repo or repo.count("/") > 1:
                raise CometError(f"expected hf:ORG/NAME (or hf:NAME), got {spec!r}")
            loaded = datasets.load_dataset(repo, config, split=split, cache_dir=cache_dir)
        else:
            path = Path(spec)
            if path.is_dir() and any((path / n).is_file() for n in ("dataset_dict.json", "state.json")):
                loaded = datasets.load_from_disk(str(path))
                if split is not None:
                    if not isinstance(loaded, datasets.DatasetDict) or split not in loaded:
                        have = ", ".join(loaded) if isinstance(loaded, datasets.DatasetDict) else "none"
                        raise CometError(f"{spec}: no split {split!r}; splits: {have}")
                    loaded = loaded[split]
            else:
                files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
                if not files:
                    raise CometError(f"no parquet files in {spec}")
                by_split: dict[str, list[str]] = {}
                for f in files:
                    stem = f.relative_to(path).as_posix() if path.is_dir() else f.name
                    name = next((s for s in ("train", "test", "validation") if s in Path(stem).parts
                                 or Path(stem).name.startswith(s)), "train")
                    by_split.setdefault(name, []).append(str(f))
                if split is not None:
                    by_split = {split: by_split.get(split) or []}
                    if not by_split[split]:
                        raise CometError(f"{spec}: no parquet files of split {split!r}")
                loaded = datasets.load_dataset("parquet", data_files=by_split, cache_dir=cache_dir)
    except CometError:
        raise
    except Exception as exc:   # offline and not cached, no such repo, a corrupt file: one line
        offline = " (offline: HF_DATASETS_OFFLINE is set and it is not in the cache)" \
            if os.environ.get("HF_DATASETS_OFFLINE", "0") not in ("0", "", "false", "False") else ""
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CometRuntimeError(f"cannot load {spec}{offline}: {type(exc).__name__}: {message}") from None
    if isinstance(loaded, datasets.DatasetDict):
        parts = {k: v for k, v in loaded.items() if len(v)}
    else:
        parts = {str(loaded.split or "train"): loaded}
    if not parts or not any(len(v) for v in parts.values()):
        raise CometError(f"{spec}: the dataset has no rows")
    return parts


def _image_column(features, wanted: str | None, spec: str) -> str:
    import datasets

    names = list(features)
    if wanted is not None:
        if wanted not in features:
            raise CometError(f"{spec}: no image column {wanted!r}; columns: {', '.join(names)}")
        return wanted
    typed = [c for c in names if isinstance(features[c], datasets.Image)]
    named = [c for c in names if c.lower() in IMAGE_COLUMN_NAMES]
    ranked = [c for c in typed if c.lower() not in MASK_COLUMN_NAMES] + named
    if not ranked:
        raise CometError(f"{spec}: no image column (an Image feature, or a column named image); columns: "
                         f"{', '.join(names)}; name one with image_column")
    return ranked[0]


def _mask_column(features, wanted: str | None, image_column: str, spec: str) -> str | None:
    if wanted is not None:
        if wanted not in features:
            raise CometError(f"{spec}: no mask column {wanted!r}; columns: {', '.join(features)}")
        return wanted or None
    named = [c for c in features if c.lower() in MASK_COLUMN_NAMES and c != image_column]
    return named[0] if named else None


def _hf_factor_columns(features, wanted: list[str] | None, taken: set, spec: str) -> list[str]:
    import datasets

    numeric = [c for c, f in features.items() if c not in taken and (
        isinstance(f, datasets.ClassLabel)
        or (isinstance(f, datasets.Value) and (f.dtype.startswith(("float", "int", "uint")))))]
    if wanted is None:
        return numeric
    for c in wanted:
        if c not in features:
            raise CometError(f"{spec}: no factor column {c!r}; columns: {', '.join(features)}")
        if c not in numeric:
            raise CometError(f"{spec}: factor column {c!r} is not numeric ({features[c]})")
    return list(wanted)
