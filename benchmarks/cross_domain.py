"""Cross-domain recombination of a two-domain model, scored against rendered truth.

    python benchmarks/cross_domain.py --model runs/two-domains/model --pairs 16
    python benchmarks/cross_domain.py --model clevr64 --pairs 16      # a one-domain model, for reference

An object component inferred from a clevr scene, added to every component of a
clevr-toy scene, composed on one canvas; the truth is the toy scene re-rendered with
that object in it (comet_zoo.eval.cross_domain). Beside it, not swapping: the toy
scene's reconstruction and the toy scene itself against the same truth. Prints one
JSON line per model.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

SOURCES = [{"dataset": "clevr", "options": {"min_objects": 3, "max_objects": 6}, "weight": 1},
           {"dataset": "clevr-toy", "options": {"min_objects": 3, "max_objects": 6}, "weight": 1}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", required=True, help="model reference (repeatable)")
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    from comet_zoo.architectures import resolve_model
    from comet_zoo.eval.cross_domain import cross_domain_scores

    torch.set_num_threads(args.threads)
    for ref in args.model:
        net, _ = resolve_model(ref)
        t0 = time.perf_counter()
        scores = cross_domain_scores(net, {"sources": SOURCES}, pairs=args.pairs, seed=args.seed)
        print(json.dumps({"date": "2026-12-07", "machine": f"{os.cpu_count()}-core {platform.machine()} CPU, torch "
                          f"{torch.__version__.split('+')[0]}, {args.threads} thread(s), shared", "model": ref,
                          "refine_steps": net.config.refine_steps, **scores,
                          "margin_db_vs_reconstruction": scores["composed"]["psnr"] - scores["reconstruction_b"]["psnr"],
                          "margin_db_vs_input": scores["composed"]["psnr"] - scores["input_b"]["psnr"],
                          "seconds": round(time.perf_counter() - t0)}), flush=True)


if __name__ == "__main__":
    main()
