"""How the gradient maps are read out into a segmentation, measured on a trained model.

    python benchmarks/segmentation_readout.py [--model clevr] [--dataset clevr] [--n 256]

The paper assigns each pixel to the component with the largest |∇x E(x, z_k)| and
thresholds weak pixels to background. The gradient maps are computed once; each
read-out variant below is then scored (fg-ARI, ARI, unweighted/weighted covering)
on the same test renders, one JSON line per variant:

    argmax            the paper's assignment, every pixel to a component
    smooth-r          maps averaged over a (2r+1)² window before the argmax
    threshold-t       pixels whose strongest raw gradient is below t × the image's peak → background
    vote-r            the foreground mask by majority over a (2r+1)² window
    normalised        each component's map divided by its own per-image peak first
    bg-component      pixels won by the card's `bg` concept (or a component index) → background
and the combinations that help.
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def readout(maps: torch.Tensor, *, normalise: bool = False, background: list[int] | None = None,
            **options) -> torch.Tensor:
    """maps [B, K, H, W] ≥ 0 → labels int64 [B, H, W] by comet_zoo's Readout(**options),
    optionally with each map divided by its own per-image peak first, and the named
    components' pixels sent to background (−1) after."""
    from comet_zoo.eval.segment import Readout, labels_from_maps

    if normalise:
        maps = maps / maps.flatten(2).amax(dim=2).clamp_min(1e-12)[:, :, None, None]
    labels = labels_from_maps(maps, Readout(**options))
    for k in background or []:
        labels = torch.where(labels == k, -1, labels)
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="clevr", help="zoo name[@version] or a model folder")
    parser.add_argument("--dataset", default=None, help="default: the card's data set")
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--option", "-O", action="append", default=[], metavar="KEY=VALUE",
                        help="a data-set option (VALUE as JSON), e.g. max_objects=3")
    parser.add_argument("--bg", default=None, help="component index treated as background (default: the card's `bg`)")
    args = parser.parse_args()

    from comet_zoo.architectures import resolve_model
    from comet_zoo.errors import CometError
    from comet_zoo.eval.baselines.trivial import baseline_scores
    from comet_zoo.eval.evaluate import render_split, training_options
    from comet_zoo.eval.metrics import segmentation_scores
    from comet_zoo.eval.segment import gradient_maps
    from comet_zoo.hub.cards import read_card

    model, folder = resolve_model(args.model)
    try:
        card = read_card(folder)
    except CometError:          # a training run's model folder has no concept card
        card = None
    dataset = args.dataset or (card.dataset if card else None)
    if dataset is None:
        raise SystemExit(f"{args.model} has no card naming its data set: give --dataset")
    concepts = card.concepts if card else []
    bg = [int(args.bg)] if args.bg is not None else [c.index for c in concepts if c.name.startswith("bg")]
    given = {key: json.loads(value) for key, _, value in (o.partition("=") for o in args.option)}
    options = {**training_options(folder, dataset), **given}
    scenes = render_split(dataset, model.config.image_size, n=args.n, seed=args.seed, options=options)
    t0 = time.perf_counter()
    x = torch.from_numpy(scenes.images)
    generator = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        z = model.infer(x)
        recon = model.generate(z, generator=generator).clamp(0, 1)
    maps = gradient_maps(model, x, recon, z)                             # [N, K, H, W]
    seconds = time.perf_counter() - t0
    k = model.config.num_components
    base = baseline_scores(scenes.images, scenes.masks, k)
    common = {"model": args.model, "dataset": dataset, "n": args.n, "bg_components": bg,
              "stripes_fg_ari": round(base["stripes"]["fg_ari"], 4), "grid_fg_ari": round(base["grid"]["fg_ari"], 4),
              "kmeans_colour": {key: round(v, 4) for key, v in base["kmeans_colour"].items()}, "maps_s": round(seconds, 1)}
    variants = {"argmax": {}}
    variants.update({f"smooth-{r}": {"smooth": r} for r in (1, 2)})
    variants.update({f"threshold-{t}": {"threshold": t} for t in (0.05, 0.1, 0.2, 0.3)})  # the paper's
    variants["normalised"] = {"normalise": True}
    if bg:
        variants["bg-component"] = {"background": bg}
        variants["bg-component+smooth-1"] = {"background": bg, "smooth": 1}
        variants["bg-component+smooth-2"] = {"background": bg, "smooth": 2}
        variants["bg-component+normalised+smooth-1"] = {"background": bg, "normalise": True, "smooth": 1}
    variants["smooth-3"] = {"smooth": 3}
    for t in (0.1, 0.15, 0.2, 0.25):
        variants[f"smooth-1+threshold-{t}"] = {"smooth": 1, "threshold": t}
    for r in (2, 3):
        for t in (0.1, 0.15, 0.2, 0.25, 0.3):
            for vote in (0, 1):
                variants[f"smooth-{r}+threshold-{t}" + (f"+vote-{vote}" if vote else "")] = {
                    "smooth": r, "threshold": t, "vote": vote}
    variants["normalised+smooth-1"] = {"normalise": True, "smooth": 1}
    for name, options in variants.items():
        scores = segmentation_scores(scenes.masks, readout(maps, **options).numpy())
        print(json.dumps({"variant": name, **{key: round(v, 4) for key, v in scores.items()}, **common}), flush=True)


if __name__ == "__main__":
    main()
