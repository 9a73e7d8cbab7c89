"""`comet datasets list | preview`: the dataset plugins, and a look at their scenes."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ._choices import Split
from ._console import console, parse_key_values, plain

# Built-ins that hold no scenes of their own: your images, and mixtures of data sets.
COLLECTIONS = {"images": "your images: comet train --data", "mixture": "several data sets, weighted"}

app = typer.Typer(help="Dataset plugins: list them, preview their scenes.", no_args_is_help=True)


@app.command("list")
def list_datasets() -> None:
    """Every dataset plugin: image size, masks, named factors, providing package (or why it fails)."""
    from rich.table import Table
    from rich.text import Text

    from comet_zoo import registry
    from comet_zoo.data import load_dataset

    table = Table(title="comet-zoo datasets")
    for column in ("name", "image size", "masks", "factors", "package"):
        table.add_column(column, overflow="fold")
    for plugin in registry.discover("datasets"):
        name = plugin.name if sum(p.name == plugin.name for p in registry.discover("datasets")) == 1 else plugin.qualified
        if plugin.dist == "comet-zoo" and plugin.name in COLLECTIONS:   # they read what you give them
            table.add_row(name, "any (--size)", "if given", "if given", f"{plugin.dist} ({COLLECTIONS[plugin.name]})")
            continue
        try:  # a probe scene shows what the plugin really returns; a broken plugin only breaks its row
            probe = load_dataset(plugin.qualified, "train", 1, 0)
        except Exception as exc:  # noqa: BLE001 - third-party code may raise anything
            table.add_row(name, Text("error", style="red"), "", Text(plain(f"{type(exc).__name__}: {exc}"), style="red"),
                          plugin.dist)
            continue
        h, w = probe.images.shape[2:]
        table.add_row(name, f"{w}×{h}", "yes" if probe.masks is not None else "no",
                      ", ".join(probe.factor_names) or "-", plugin.dist)
    console.print(table)


@app.command("preview")
def preview(
    name: str = typer.Argument(..., help="Dataset name (or dist:name), e.g. clevr; or your images: a folder, "
                               "hf:ORG/NAME, a save_to_disk folder or parquet files (shown as a model sees them)."),
    out: Path = typer.Option(..., "--out", "-o", help="PNG file to write."),
    n: int = typer.Option(16, "--n", "-n", help="Number of scenes."),
    split: Split = typer.Option(Split.train, "--split", help="train or test."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the scenes."),
    size: Optional[int] = typer.Option(None, "--size", help="Image size (default: the dataset's)."),
    nrow: int = typer.Option(8, "--nrow", help="Scenes per row."),
    scale: int = typer.Option(2, "--scale", help="Zoom factor of each scene."),
    outlines: bool = typer.Option(True, "--outlines/--no-outlines", help="Add rows with mask outlines."),
    option: List[str] = typer.Option([], "--option", help="Dataset option KEY=VALUE (repeatable), e.g. max_objects=10."),
) -> None:
    """Write a PNG grid of a dataset's scenes; under each row, the same scenes with mask outlines."""
    from comet_zoo.data import load_dataset
    from comet_zoo.errors import CometError

    if not (1 <= n <= 1024 and 1 <= nrow <= 64 and 1 <= scale <= 16):
        raise CometError("--n must be in 1..1024, --nrow in 1..64 and --scale in 1..16")
    options = parse_key_values(option)
    if size is not None:
        options["size"] = size
    dataset = name
    from comet_zoo import registry

    if name.startswith("hf:") or Path(name).exists() or name not in {p.name for p in registry.discover("datasets")} | \
            {p.qualified for p in registry.discover("datasets")}:
        from comet_zoo.train.recipe import data_spec

        dataset, found = data_spec([name])
        options = {**found, **options}
    from comet_zoo.data import build_dataset, reads_from_disk

    data = build_dataset(dataset, **options)
    if reads_from_disk(data):   # a collection holds what it holds: show up to n, and say what was skipped
        n = min(n, data.count(split.value))
        console.print(data.summary(), highlight=False, markup=False)
    scenes = load_dataset(dataset, split.value, n, seed, **options)
    from comet_zoo.data.images import save_png  # torch: only once there is something to draw
    from comet_zoo.data.preview import preview_image

    path = save_png(preview_image(scenes, nrow=min(nrow, n), scale=scale, outlines=outlines), out)
    console.print(f"{n} {name} scenes → {path}")
