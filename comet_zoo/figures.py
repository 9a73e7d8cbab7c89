"""The decomposition and recombination figures, as PIL images: `comet decompose`,
`comet recombine` and the demo draw them with these two functions.

    decomposition("clevr", "scene.png")                       input, recon, each component, its mask
    recombination("clevr", "a.png", "clevr-toy", "b.png")     components swapped between two scenes
"""

from __future__ import annotations

from pathlib import Path

import torch

from ._checks import check_seed
from .composer import Composer, Term
from .core.model import COMET
from .data.images import labelled_grid, load_image


def load_named(ref: str, device: torch.device | str = "cpu") -> tuple[COMET, list[str], Path]:
    """A model of any reference (loaded once per process), its component names (the card's
    concepts, else its defaults) and its snapshot folder."""
    from . import hub
    from .hub.cards import read_card_or_default
    from .hub.loaded import loaded_model

    snapshot = hub.resolve(ref)
    net = loaded_model(snapshot, device)
    card = read_card_or_default(snapshot, net.config.pos_embed)
    names = [f"c{i}" for i in range(net.config.num_components)]
    for concept in card.concepts:
        names[concept.index] = concept.name
    return net, names, snapshot


def _latent(net: COMET, x: torch.Tensor, snapshot: Path, image: str | Path) -> torch.Tensor:
    """z [K, D] of x [1, 3, S, S] read from `image`: the artifact's stored latent when the file
    is one of its exemplars, else the latent cache's (hub/latents.py), else inferred."""
    from .hub.latents import latents_for

    try:
        rel = Path(image).resolve().relative_to(Path(snapshot).resolve()).as_posix()
    except ValueError:
        rel = None
    return latents_for(net, x.cpu(), snapshot, rel).to(x.device)


def decomposition(ref: str, image: str | Path, *, seed: int = 0, device: torch.device | str = "cpu"):
    """Input, reconstruction and each component alone (top row); where each component wins
    the gradient segmentation (bottom row)."""
    from .eval.segment import gradient_maps

    net, names, snapshot = load_named(ref, device)
    p = next(net.parameters())
    x = load_image(image, net.config.image_size).to(p.device)           # [1, 3, S, S]
    k = net.config.num_components
    z = _latent(net, x, snapshot, image)[None]                          # [1, K, D]
    gen = torch.Generator(device=p.device).manual_seed(check_seed(seed))
    recon = net.generate(z, x0=net.initial_image(1, gen)).detach()
    alone = [net.generate(z, weights=torch.eye(k, device=p.device)[i], x0=net.initial_image(1, gen)).detach()
             for i in range(k)]
    owner = gradient_maps(net, x, recon, z).argmax(1)                    # [1, S, S] component per pixel
    masks = [x * (owner == i)[:, None] for i in range(k)]               # the input where component i wins
    blank = ("", torch.ones_like(x[0]))
    rows = [[("input", x[0]), ("recon", recon[0])] + [(names[i], alone[i][0]) for i in range(k)],
            [blank, blank] + [(f"mask {names[i]}", masks[i][0]) for i in range(k)]]
    return labelled_grid(rows, scale=max(1, 96 // net.config.image_size))


def _fit(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """An input image [3, s, s] at the canvas size of `like` [3, S, S], for one grid."""
    from .composer import resize

    return resize(x[None], like.shape[-1])[0]


def recombination(first: str, image_a: str | Path, second: str, image_b: str | Path, *, size: int | None = None,
                  seed: int = 0, device: torch.device | str = "cpu"):
    """Scenes A and B, their reconstructions, and for each component i: A with B's
    component i, B with A's (the paper's Fig. 7); the two models may differ."""
    sides = []
    for ref, path in ((first, image_a), (second, image_b)):
        net, names, snapshot = load_named(ref, device)
        x = load_image(path, net.config.image_size).to(next(net.parameters()).device)
        z = _latent(net, x, snapshot, path)                              # [K, D]
        sides.append((f"{ref}#{len(sides)}", net, names, x, z))
    models = {key: net for key, net, *_ in sides}
    (ka, _, names_a, xa, za), (kb, _, names_b, xb, zb) = sides

    def render(terms):
        return Composer(models, terms, size=size, device=device).sample(1, seed=seed)[0]

    own_a = [Term(ka, i, za[i]) for i in range(len(za))]
    own_b = [Term(kb, i, zb[i]) for i in range(len(zb))]
    canvas = render(own_a)
    rows = [[("A", _fit(xa[0], canvas)), ("B", _fit(xb[0], canvas)), ("recon A", canvas), ("recon B", render(own_b))]]
    for i in range(min(len(za), len(zb))):
        a_with_b = [t for t in own_a if t.component != i] + [Term(kb, i, zb[i])]
        b_with_a = [t for t in own_b if t.component != i] + [Term(ka, i, za[i])]
        rows.append([(f"A+B.{names_b[i]}", render(a_with_b)), (f"B+A.{names_a[i]}", render(b_with_a))])
    return labelled_grid(rows, scale=max(1, 96 // canvas.shape[-1]))
