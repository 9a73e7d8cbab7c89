"""What latent refinement (core/refine.py) buys a trained model: reconstruction, segmentation
and the object swap, against the encoder's latents as they are.

    python benchmarks/latent_refinement.py --model clevr [--dataset clevr] [--n 128]
        [--steps 0,10,20,40] [--lr 0.01] [--readout clean] [--pairs 16]

Held-out renders of seed 1234 (not `comet eval`'s seed 0, so a setting chosen here is not
chosen on the numbers a card reports). For each number of refinement steps, one JSON line:
reconstruction MSE from a fixed x_0, fg-ARI / ARI / MSC / WSC under the read-out, the wall
time of inference and, with --pairs, the object swap's PSNR against the rendered truth.
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="clevr", help="zoo name[@version] or a model folder")
    parser.add_argument("--dataset", default=None, help="default: the card's data set")
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--steps", default="0,10,20,40", help="comma list of refinement steps")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--readout", default=None, help="clean, smooth or argmax; default: the card's")
    parser.add_argument("--pairs", type=int, default=0, help="also score the object swap on this many pairs")
    args = parser.parse_args()

    from comet_zoo.architectures import resolve_model
    from comet_zoo.eval.evaluate import render_split, training_options
    from comet_zoo.eval.metrics import segmentation_scores
    from comet_zoo.eval.recombination import recombination_scores
    from comet_zoo.eval.segment import CLEAN, READOUTS, Readout, gradient_maps, labels_from_maps
    from comet_zoo.hub.cards import card_readout, read_card_or_default

    model, folder = resolve_model(args.model)
    dataset = args.dataset or read_card_or_default(folder, model.config.pos_embed).dataset
    if dataset is None:
        raise SystemExit(f"{args.model} has no card naming its data set: give --dataset")
    recorded = card_readout(folder)
    readout = READOUTS[args.readout] if args.readout else Readout.from_dict(recorded, "card") if recorded else CLEAN
    options = training_options(folder, dataset)
    scenes = render_split(dataset, model.config.image_size, n=args.n, seed=args.seed, options=options)
    x = torch.from_numpy(scenes.images)
    model.config.refine_lr = args.lr
    for steps in (int(s) for s in args.steps.split(",")):
        model.config.refine_steps = steps
        model.config.validate()
        t0 = time.perf_counter()
        with torch.no_grad():
            z = model.infer(x)                                                   # [N, K, D]
        seconds = time.perf_counter() - t0
        recon = model.generate(z, generator=torch.Generator().manual_seed(0)).clamp(0, 1).detach()
        labels = labels_from_maps(gradient_maps(model, x, recon, z), readout)
        row = {"model": args.model, "dataset": dataset, "n": args.n, "seed": args.seed, "refine_steps": steps,
               "refine_lr": args.lr, "readout": readout.to_dict(), "infer_s": round(seconds, 1),
               "threads": torch.get_num_threads(), "mse": round(float((recon - x).pow(2).mean()), 6),
               **{key: round(v, 4) for key, v in segmentation_scores(scenes.masks, labels.numpy()).items()}}
        if args.pairs:
            swap = recombination_scores(model, dataset, pairs=args.pairs, seed=args.seed, options=options)
            row.update({f"{kind}_swap_psnr": round(swap[kind]["composed"]["psnr"], 2)
                        for kind in ("object", "lighting") if kind in swap})
            if "best_other_component" in swap.get("lighting", {}):   # the light swap's margin over any other
                row["lighting_margin_db"] = round(swap["lighting"]["composed"]["psnr"]
                                                  - swap["lighting"]["best_other_component"]["psnr"], 2)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
