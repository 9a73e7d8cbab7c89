"""`comet compose | decompose | recombine`: generate from components of one or more models."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ._choices import Sampler
from ._console import console, plain


def compose(
    specs: List[str] = typer.Argument(..., help="MODEL[@VERSION]:COMPONENT[@SOURCE][*WEIGHT], one or more."),
    out: Path = typer.Option(..., "--out", "-o", help="Output PNG (a grid when --batch > 1)."),
    size: Optional[int] = typer.Option(None, "--size", help="Canvas size; default the largest native size."),
    steps: Optional[int] = typer.Option(
        None, "--steps", help="Descent steps; default 4 × the models' largest N (a few concepts leave canvas "
                              "that no concept claims, and it clears more slowly than in training)."),
    sampler: Sampler = typer.Option(Sampler.gd, "--sampler", help="gd (the paper's), langevin or anneal."),
    seed: int = typer.Option(0, "--seed", help="Seed of x_0 and of sampler noise."),
    batch: int = typer.Option(1, "--batch", help="Number of samples generated at once."),
    gif: Optional[Path] = typer.Option(None, "--gif", help="Also write the descent trajectory as a GIF."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu or cuda[:N]."),
    bf16: bool = typer.Option(False, "--bf16", help="bf16 autocast on CUDA."),
    scale: Optional[int] = typer.Option(
        None, "--scale", help="Enlarge the saved PNG N times (nearest neighbour); default: to at least 128 px."),
) -> None:
    """Sum the energies of components from one or more models and descend on one canvas."""
    from comet_zoo.composer import Composer, view_scale
    from comet_zoo.core.device import resolve_device
    from comet_zoo.data.images import save_gif, save_png
    from comet_zoo.errors import CometError

    _check_outputs(out, ".png", gif)
    if scale is not None and not 1 <= scale <= 16:
        raise CometError(f"--scale must be 1..16, got {scale}")
    composer = Composer.from_specs(specs, size=size, device=resolve_device(device), bf16=bf16)
    frames: list | None = [] if gif else None
    picture = composer.picture(batch, scale=scale, steps=steps, sampler=sampler.value, seed=seed, trajectory=frames)
    save_png(picture, out)
    if gif:
        save_gif(frames, gif)
    factor = view_scale(composer.size) if scale is None else scale
    enlarged = f", the {composer.size}-px canvas ×{factor}" if factor > 1 else ""
    console.print(plain(f"{' + '.join(t.label for t in composer.terms)} → {out} "
                        f"({picture.width}×{picture.height} px{enlarged})"), highlight=False)


def decompose(
    model: str = typer.Argument(..., help="Any model reference: clevr, clevr@v5, hf-hub:ORG/NAME, ./runs/x/model."),
    image: Optional[str] = typer.Argument(None, help="Image to decompose; with --data, an index into its test split "
                                          "(default 0)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output PNG grid."),
    data: List[str] = typer.Option([], "--data", help="Take the image from a collection (a folder, hf:ORG/NAME, a "
                                   "save_to_disk folder, parquet files), preprocessed as the model sees it."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device"),
) -> None:
    """Input, reconstruction, each component alone, and each component's mask, in one grid."""
    import tempfile

    from comet_zoo.core.device import resolve_device
    from comet_zoo.data.images import save_png
    from comet_zoo.errors import CometError
    from comet_zoo.figures import decomposition

    _check_outputs(out, ".png")
    if image is None and not data:
        raise CometError("give an image to decompose, or --data (and an index into its test split)")
    with tempfile.TemporaryDirectory(prefix="comet-decompose-") as tmp:
        path = _collection_image(model, data, image or "0", Path(tmp) / "image.png") if data else Path(image)
        save_png(decomposition(model, path, seed=seed, device=resolve_device(device)), out)
    shown = f"test image {image or 0} of {' + '.join(data)}" if data else image
    console.print(plain(f"decomposition of {shown} by {model} → {out}"), highlight=False)


def _collection_image(model: str, data: List[str], index: str, path: Path) -> Path:
    """Test image `index` of the collection `data` as `model` sees it, written to `path` (a PNG)."""
    import torch

    from comet_zoo.architectures import resolve_model
    from comet_zoo.data import build_dataset, reads_from_disk
    from comet_zoo.data.images import grid
    from comet_zoo.data.images import save_png as write
    from comet_zoo.errors import CometError
    from comet_zoo.train.recipe import data_spec

    if not index.isdigit():
        raise CometError(f"with --data, give the image as an index into the test split, got {index!r}")
    net, _ = resolve_model(model)
    dataset, options = data_spec(data)
    collection = build_dataset(dataset, **{**options, "size": net.config.image_size})
    if not reads_from_disk(collection):
        raise CometError("--data here takes a collection of images (a folder, hf:ORG/NAME, a save_to_disk folder or "
                         "parquet files)")
    x = torch.from_numpy(collection.image("test", int(index)))                 # [3, S, S]
    return write(grid(x[None], nrow=1, pad=0), path)


def recombine(
    first: str = typer.Argument(..., help="MODEL_A:IMAGE_A (any model reference, e.g. clevr or ./runs/x/model)."),
    second: str = typer.Argument(..., help="MODEL_B:IMAGE_B (may be another model)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output PNG grid."),
    size: Optional[int] = typer.Option(None, "--size"),
    data: List[str] = typer.Option([], "--data", help="IMAGE_A and IMAGE_B are indices into this collection's test "
                                   "split (a folder, hf:ORG/NAME, ...), preprocessed as each model sees it."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device"),
) -> None:
    """Swap components between two images, across two models when asked (the paper's Fig. 7)."""
    import tempfile

    from comet_zoo.core.device import resolve_device
    from comet_zoo.data.images import save_png
    from comet_zoo.errors import CometError
    from comet_zoo.figures import recombination
    from comet_zoo.spec import split_model

    _check_outputs(out, ".png")
    (ref_a, sep_a, image_a), (ref_b, sep_b, image_b) = split_model(first), split_model(second)
    for arg, sep, path in ((first, sep_a, image_a), (second, sep_b, image_b)):
        if not sep or not path:
            raise CometError(f"expected MODEL:IMAGE, got {arg!r}")
    with tempfile.TemporaryDirectory(prefix="comet-recombine-") as tmp:
        if data:
            image_a = _collection_image(ref_a, data, image_a, Path(tmp) / "a.png")
            image_b = _collection_image(ref_b, data, image_b, Path(tmp) / "b.png")
        picture = recombination(ref_a, image_a, ref_b, image_b, size=size, seed=seed, device=resolve_device(device))
    save_png(picture, out)
    console.print(plain(f"recombination grid → {out}"), highlight=False)


def _check_outputs(out: Path, suffix: str, gif: Path | None = None) -> None:
    """Every output is checked before the work starts: a failure never comes after it."""
    from comet_zoo._io import check_writable

    check_writable(out, suffix)
    if gif is not None:
        check_writable(gif, ".gif")
