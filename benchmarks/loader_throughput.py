"""Can the image loader keep the trainer fed? Images per second at 64² from a PNG folder,
a JPEG folder and an Arrow (save_to_disk) dataset, beside the clevr renderer and one
training step; and peak memory while reading collections of 10 000 and 100 000 images.

    python benchmarks/loader_throughput.py                 # every case
    python benchmarks/loader_throughput.py --cases png,jpeg,arrow --workers 1,4

One JSON line per case. Loader cases read random batches of 64 through the `images`
data set exactly as the trainer does (LazyImages: decode, preprocess to 64², uint8),
with `workers` decoding threads. The RSS cases run in a fresh process each: they open
the collection (a header check of every file), then read 100 random batches, and report
the peak resident memory (VmHWM) and the anonymous part of it at the end (RssAnon:
memory-mapped Arrow pages are file-backed and the kernel drops them under pressure).
The 100 000-image collections are made cheaply: hard links to 512 distinct files, and an
Arrow table of 100 000 rows built in chunks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATE = "2026-12-07"


def machine() -> str:
    import torch

    return f"{os.cpu_count()}-core {platform.machine()} CPU, torch {torch.__version__.split('+')[0]}"


def pictures(n: int, size: int = 64, seed: int = 0):
    """n photo-like pictures [size, size, 3] uint8: smooth gradients with a few blocks (compress like photos)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for _ in range(n):
        base = rng.random(3)[None, None] * 0.6 + 0.2 * np.stack([yy, xx, 1 - yy], -1) + 0.05 * rng.random((size, size, 3))
        for _ in range(3):
            t, l, s = *rng.integers(0, size - 8, 2), rng.integers(6, size // 2)
            base[t:t + s, l:l + s] = rng.random(3)
        yield (np.clip(base, 0, 1) * 255).astype(np.uint8)


def write_folder(root: Path, n: int, fmt: str, size: int = 64) -> Path:
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    for i, arr in enumerate(pictures(n, size)):
        Image.fromarray(arr).save(root / f"{i:06d}.{fmt}", quality=90) if fmt == "jpg" else \
            Image.fromarray(arr).save(root / f"{i:06d}.{fmt}")
    return root


def write_arrow(root: Path, n: int, distinct: int = 512, chunk: int = 10_000) -> Path:
    """save_to_disk of n PNG-encoded 64² images (`distinct` different ones, repeated), in chunks."""
    import io

    import datasets
    from PIL import Image

    encoded = []
    for arr in pictures(distinct):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="PNG")
        encoded.append(buf.getvalue())
    features = datasets.Features({"image": datasets.Image(), "index": datasets.Value("int64")})
    parts = [datasets.Dataset.from_dict({"image": [{"bytes": encoded[i % distinct], "path": None}
                                                   for i in range(start, min(n, start + chunk))],
                                         "index": list(range(start, min(n, start + chunk)))}, features=features)
             for start in range(0, n, chunk)]
    datasets.concatenate_datasets(parts).save_to_disk(str(root))
    return root


def hardlink_folder(root: Path, n: int, distinct: int = 512) -> Path:
    """n PNG files that are hard links to `distinct` real ones: 100 000 files for the disk of 512."""
    seeds = write_folder(root / ".seeds", distinct, "png")
    for i in range(n):
        os.link(seeds / f"{i % distinct:06d}.png", root / f"{i:06d}.png")
    return root


def loader_rate(source: Path, workers: int, batches: int, batch: int = 64, **options) -> dict:
    import torch

    from comet_zoo.data.image_collection import ImageCollectionDataset

    t0 = time.perf_counter()
    data = ImageCollectionDataset(str(source), size=64, workers=workers, **options)
    opened = time.perf_counter() - t0
    lazy = data.lazy("train")
    g = torch.Generator().manual_seed(0)
    lazy[torch.randint(len(lazy), (batch,), generator=g)]                       # warm the pool
    t0 = time.perf_counter()
    for _ in range(batches):
        lazy[torch.randint(len(lazy), (batch,), generator=g)]
    seconds = time.perf_counter() - t0
    return {"img_per_s": round(batches * batch / seconds, 1), "open_s": round(opened, 2), "images": len(data.keys)}


def renderer_rate(n: int) -> dict:
    from comet_zoo.data import load_dataset

    load_dataset("clevr", "train", 8, 0, size=64, threads=1)
    t0 = time.perf_counter()
    load_dataset("clevr", "train", n, 1, size=64, threads=1)
    return {"img_per_s": round(n / (time.perf_counter() - t0), 1)}


def train_step_rate(steps: int) -> dict:
    import torch

    from comet_zoo.train.recipe import Recipe, resolve_recipe
    from comet_zoo.train.trainer import Trainer

    recipe = Recipe.load(resolve_recipe("photos-small"))
    recipe.train.dataset, recipe.train.dataset_options, recipe.train.train_size = "shapes", {}, 256
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(recipe, tmp)
        trainer.train_step()
        t0 = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        seconds = time.perf_counter() - t0
    return {"img_per_s": round(steps * recipe.train.batch_size / seconds, 1),
            "model": "photos-small (64 px, K 4, width 32, N 5), batch 32", "torch_threads": torch.get_num_threads()}


def rss_child(source: str, batches: int) -> None:
    """In a fresh process: open, read `batches` random batches of 64, print peak and anonymous RSS (MB)."""
    import datasets
    import torch

    from comet_zoo.data.image_collection import ImageCollectionDataset

    datasets.disable_progress_bars()
    t0 = time.perf_counter()
    data = ImageCollectionDataset(source, size=64, workers=4)
    opened = time.perf_counter() - t0
    lazy = data.lazy("train")
    g = torch.Generator().manual_seed(0)
    for _ in range(batches):
        lazy[torch.randint(len(lazy), (64,), generator=g)]
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    mb = lambda key: round(int(status[key].split()[0]) / 1024, 1)   # noqa: E731
    print(json.dumps({"images": len(data.keys), "peak_rss_mb": mb("VmHWM"), "rss_anon_mb": mb("RssAnon"),
                      "rss_file_mb": mb("RssFile"), "open_s": round(opened, 1)}))


def rss(source: Path, batches: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--rss-child", str(source), "--batches", str(batches)],
                         capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="png,jpeg,jpeg256,arrow,renderer,train,rss")
    parser.add_argument("--workers", default="1,4")
    parser.add_argument("--images", type=int, default=2000, help="images in the PNG / JPEG / Arrow throughput sets")
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--rss-sizes", default="10000,100000")
    parser.add_argument("--rss-kinds", default="png,arrow")
    parser.add_argument("--work", type=Path, default=None, help="where to write the collections (default: a temp dir)")
    parser.add_argument("--rss-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child, args.batches)
        return
    import datasets
    import torch

    datasets.disable_progress_bars()
    torch.set_num_threads(1)
    cases = args.cases.split(",")
    workers = [int(w) for w in args.workers.split(",")]
    base = {"date": DATE, "machine": machine(), "size": 64}
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        tmp = Path(tmp)
        sources = {"png": lambda: write_folder(tmp / "png", args.images, "png"),
                   "jpeg": lambda: write_folder(tmp / "jpeg", args.images, "jpg"),
                   "jpeg256": lambda: write_folder(tmp / "jpeg256", args.images, "jpg", size=256),
                   "arrow": lambda: write_arrow(tmp / "arrow", args.images)}
        for case in cases:
            if case in sources:
                folder = sources[case]()
                for w in workers:
                    print(json.dumps({**base, "case": case, "workers": w, "batch": 64,
                                      **loader_rate(folder, w, args.batches)}), flush=True)
            elif case == "renderer":
                print(json.dumps({**base, "case": "renderer clevr", "threads": 1, **renderer_rate(256)}), flush=True)
            elif case == "train":
                print(json.dumps({**base, "case": "training step", **train_step_rate(5)}), flush=True)
            elif case == "rss":
                for n in (int(s) for s in args.rss_sizes.split(",")):
                    for kind, make in (("png folder", hardlink_folder), ("arrow", write_arrow)):
                        if kind.split()[0] not in args.rss_kinds.split(","):
                            continue
                        where = make(tmp / f"rss-{kind.replace(' ', '-')}-{n}", n)
                        print(json.dumps({**base, "case": f"peak rss, {kind}", "batches": 100, **rss(where, 100)}),
                              flush=True)


if __name__ == "__main__":
    main()
