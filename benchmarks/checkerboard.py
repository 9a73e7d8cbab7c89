"""How much period-2 (checkerboard) pattern a model draws into the images it generates.

    python benchmarks/checkerboard.py MODEL [MODEL ...] [--n 32] [--png out.png]

For each model (zoo name or model folder): infer the latents of n test renders of its
data set, generate from x_0 ~ U(0,1) with 4 × N descent steps (what `comet compose`
runs) on all components (a reconstruction) and on component 0 alone (one concept on an
otherwise empty canvas, where the pattern shows), and measure the share of each image's non-DC spectral power that sits on the
Nyquist row and column of its 2-D FFT (patterns that flip sign every pixel). One JSON
line per model, with the same share for the rendered test images (the truth has edges,
so it is not zero) and their ratio. `--png` writes the generated images, enlarged 4×
with nearest-neighbour so that a checkerboard stays visible.
"""

from __future__ import annotations

import argparse
import json

import torch


def nyquist_share(images: torch.Tensor) -> float:
    """images [B, 3, H, W] → mean share of non-DC power on the Nyquist row/column (H, W even)."""
    f = torch.fft.fft2(images - images.mean(dim=(2, 3), keepdim=True))
    power = f.abs().pow(2).sum(dim=1)                         # [B, H, W]
    h, w = power.shape[-2:]
    mask = torch.zeros(h, w, dtype=torch.bool)
    mask[h // 2, :] = True
    mask[:, w // 2] = True
    return float((power[:, mask].sum(1) / power.flatten(1).sum(1).clamp_min(1e-12)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--dataset", default=None, help="default: the card's data set, else clevr")
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--png", default=None)
    args = parser.parse_args()

    from comet_zoo.architectures import resolve_model
    from comet_zoo.data.images import grid, save_png
    from comet_zoo.eval.evaluate import render_split, training_options
    from comet_zoo.hub.cards import read_card
    from comet_zoo.errors import CometError

    rows = []
    for ref in args.models:
        model, folder = resolve_model(ref)
        try:
            dataset = args.dataset or read_card(folder).dataset or "clevr"
        except CometError:                                     # a training run's folder has no card
            dataset = args.dataset or "clevr"
        scenes = render_split(dataset, model.config.image_size, n=args.n, seed=0,
                              options=training_options(folder, dataset) or {"min_objects": 2, "max_objects": 3})
        x = torch.from_numpy(scenes.images)
        with torch.no_grad():
            z = model.infer(x)
        truth = nyquist_share(x)
        one = torch.zeros(model.config.num_components)
        one[0] = 1.0
        for what, weights in (("reconstruction", None), ("component 0 alone", one)):
            out = model.generate(z, steps=4 * model.config.steps, weights=weights,
                                 generator=torch.Generator().manual_seed(0)).detach().clamp(0, 1)
            share = nyquist_share(out)
            print(json.dumps({"model": ref, "images": what, "stem": getattr(model.config, "stem", "conv"),
                              "stem_stride": model.config.stem_stride, "n": args.n, "nyquist_share": round(share, 5),
                              "nyquist_share_truth": round(truth, 5), "ratio": round(share / truth, 2)}), flush=True)
            rows.append(out[:8])
    if args.png:
        print(save_png(grid(torch.cat(rows), nrow=8, scale=4), args.png))


if __name__ == "__main__":
    main()
