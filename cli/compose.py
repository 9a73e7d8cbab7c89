"""`comet compose | decompose | recombine`: generate from components of one or more models."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ._console import console


def compose(
    specs: List[str] = typer.Argument(..., help="MODEL[@VERSION]:COMPONENT[@SOURCE][*WEIGHT], one or more."),
    out: Path = typer.Option(..., "--out", "-o", help="Output PNG (a grid when --batch > 1)."),
    size: Optional[int] = typer.Option(None, "--size", help="Canvas size; default the largest native size."),
    steps: Optional[int] = typer.Option(
        None, "--steps", help="Descent steps; default 4 × the models' largest N (a few concepts leave canvas "
                              "that no concept claims, and it clears more slowly than in training)."),
    sampler: str = typer.Option("gd", "--sampler", help="gd (the paper's), langevin or anneal."),
    seed: int = typer.Option(0, "--seed", help="Seed of x_0 and of sampler noise."),
    batch: int = typer.Option(1, "--batch", help="Number of samples generated at once."),
    gif: Optional[Path] = typer.Option(None, "--gif", help="Also write the descent trajectory as a GIF."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu or cuda[:N]."),
    bf16: bool = typer.Option(False, "--bf16", help="bf16 autocast on CUDA."),
    scale: int = typer.Option(1, "--scale", help="Enlarge the saved PNG N times (nearest neighbour), for viewing."),
) -> None:
    """Sum the energies of components from one or more models and descend on one canvas."""
    from comet_zoo.compose import Composer
    from comet_zoo.core.device import resolve_device
    from comet_zoo.data.images import grid, save_gif, save_png

    _check_outputs(out, ".png", gif)
    if not 1 <= scale <= 16:
        from comet_zoo.errors import CometError
        raise CometError(f"--scale must be 1..16, got {scale}")
    composer = Composer.from_specs(specs, size=size, device=resolve_device(device), bf16=bf16)
    frames: list | None = [] if gif else None
    images = composer.sample(batch, steps=steps, sampler=sampler, seed=seed, trajectory=frames)  # default 4N
    save_png(grid(images, nrow=min(batch, 8), pad=0 if batch == 1 else 2, scale=scale), out)
    if gif:
        save_gif(frames, gif)
    console.print(f"{' + '.join(t.label for t in composer.terms)} → {out}")


def decompose(
    model: str = typer.Argument(..., help="MODEL[@VERSION] from the zoo, or a local model folder."),
    image: Path = typer.Argument(..., help="Image to decompose."),
    out: Path = typer.Option(..., "--out", "-o", help="Output PNG grid."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device"),
) -> None:
    """Input, reconstruction, each component alone, and each component's mask, in one grid."""
    import torch

    from comet_zoo.core.device import resolve_device
    from comet_zoo.data.images import labelled_grid, load_image, save_png
    from comet_zoo.eval.segment import gradient_maps

    _check_outputs(out, ".png")
    net, names = _load(model, resolve_device(device))
    p = next(net.parameters())
    x = load_image(image, net.config.image_size).to(p.device)           # [1, 3, S, S]
    k = net.config.num_components
    with torch.no_grad():
        z = net.infer(x)                                                # [1, K, D]
    gen = torch.Generator(device=p.device).manual_seed(seed)
    recon = net.generate(z, x0=net.initial_image(1, gen)).detach()
    alone = [net.generate(z, weights=torch.eye(k, device=p.device)[i], x0=net.initial_image(1, gen)).detach()
             for i in range(k)]
    owner = gradient_maps(net, x, recon, z).argmax(1)                    # [1, S, S] component per pixel
    masks = [x * (owner == i)[:, None] for i in range(k)]               # the input where component i wins
    rows = [[("input", x[0]), ("recon", recon[0])] + [(names[i], alone[i][0]) for i in range(k)],
            [("", torch.ones_like(x[0])), ("", torch.ones_like(x[0]))] + [(f"mask {names[i]}", masks[i][0]) for i in range(k)]]
    save_png(labelled_grid(rows, scale=max(1, 96 // net.config.image_size)), out)
    console.print(f"decomposition of {image} by {model} → {out}")


def recombine(
    first: str = typer.Argument(..., help="MODEL_A[@VERSION]:IMAGE_A"),
    second: str = typer.Argument(..., help="MODEL_B[@VERSION]:IMAGE_B (may be another model)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output PNG grid."),
    size: Optional[int] = typer.Option(None, "--size"),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device"),
) -> None:
    """Swap components between two images, across two models when asked (the paper's Fig. 7)."""
    import torch

    from comet_zoo.compose import Composer, Term
    from comet_zoo.core.device import resolve_device
    from comet_zoo.data.images import labelled_grid, load_image, save_png

    _check_outputs(out, ".png")
    dev = resolve_device(device)
    sides = []
    for arg in (first, second):
        ref, sep, path = arg.partition(":")
        if not sep or not path:
            from comet_zoo.errors import CometError
            raise CometError(f"expected MODEL[@VERSION]:IMAGE, got {arg!r}")
        net, names = _load(ref, dev)
        x = load_image(path, net.config.image_size).to(dev)
        with torch.no_grad():
            z = net.infer(x)[0]                                          # [K, D]
        key = f"{ref}#{len(sides)}"
        sides.append((key, net, names, x, z))
    models = {key: net for key, net, *_ in sides}
    (ka, _, names_a, xa, za), (kb, _, names_b, xb, zb) = sides

    def render(terms):
        return Composer(models, terms, size=size, device=dev).sample(1, seed=seed)[0]

    own_a = [Term(ka, i, za[i]) for i in range(len(za))]
    own_b = [Term(kb, i, zb[i]) for i in range(len(zb))]
    canvas = render(own_a)
    rows = [[("A", _fit(xa[0], canvas)), ("B", _fit(xb[0], canvas)), ("recon A", canvas), ("recon B", render(own_b))]]
    for i in range(min(len(za), len(zb))):
        a_with_b = [t for t in own_a if t.component != i] + [Term(kb, i, zb[i])]
        b_with_a = [t for t in own_b if t.component != i] + [Term(ka, i, za[i])]
        rows.append([(f"A+B.{names_b[i]}", render(a_with_b)), (f"B+A.{names_a[i]}", render(b_with_a))])
    save_png(labelled_grid(rows, scale=max(1, 96 // canvas.shape[-1])), out)
    console.print(f"recombination grid → {out}")


def _load(ref: str, device):
    """A model from the zoo (or a local folder) and its component names."""
    from comet_zoo import hub
    from comet_zoo.core.model import COMET
    from comet_zoo.hub.cards import read_card

    snapshot = hub.resolve(ref)
    net = COMET.load(snapshot, device=device)
    names = [f"c{i}" for i in range(net.config.num_components)]
    if (snapshot / "README.md").is_file():
        from comet_zoo.errors import CometError

        try:
            concepts = read_card(snapshot).concepts
        except CometError:  # a folder fresh from `comet train` has a plain card, without concepts
            concepts = []
        for concept in concepts:
            names[concept.index] = concept.name
    return net, names


def _fit(image, like):
    """Resize image [3, s, s] to the canvas size of `like` [3, S, S] for display."""
    from comet_zoo.compose import resize

    return resize(image[None], like.shape[-1])[0]


def _check_outputs(out: Path, suffix: str, gif: Path | None = None) -> None:
    from comet_zoo.errors import CometError

    if out.suffix.lower() != suffix:
        raise CometError(f"--out must end in {suffix}, got {out.name}")
    if gif is not None and gif.suffix.lower() != ".gif":
        raise CometError(f"--gif must end in .gif, got {gif.name}")
