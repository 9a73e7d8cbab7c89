"""Steps per second of a training recipe, and its loss curve, for comparing engine levers.

    python benchmarks/recipe_speed.py --recipe comet_zoo/recipes/clevr.json --steps 500 \
        [--set train.micro_batch=8 ...] [--threads 2] [--nproc 2 --threads 1] [--name NAME] [--log FILE]

Trains `--steps` steps of the recipe (Trainer.train_step, from a fresh run) and prints
one JSON line: steps/s and images/s over the steps after `--warmup`, peak RSS, and the
mean loss over each tenth of the run (the curve to compare between levers: same seed,
same batches, so a lever that changes only the engine should stay within float noise).
It uses only `comet_zoo.Recipe` and `comet_zoo.Trainer`, so it also runs against an
older install of comet-zoo (a baseline from the same job: another venv).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", required=True)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--train-size", type=int, default=2048, help="scenes rendered for training (speed only)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--threads", type=int, help="torch threads (default: all cores, split evenly over --nproc ranks)")
    parser.add_argument("--name", default="")
    parser.add_argument("--log", default=None, help="also write every step's loss here (JSON list)")
    parser.add_argument("--nproc", type=int, default=1, help="data-parallel processes (gloo), --threads each; "
                        "the same global batch and losses, rank 0 prints")
    args = parser.parse_args()
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        from comet_zoo.train.distributed import launch

        launch(sys.argv[1:], args.nproc, program=[sys.executable, __file__])
        return

    import torch

    import comet_zoo
    from comet_zoo import Recipe, Trainer
    from time_to_quality import apply_overrides   # this folder's; plain Python, so any comet-zoo version

    # Under --nproc the launcher has set OMP_NUM_THREADS to this rank's share of the cores.
    torch.set_num_threads(args.threads or int(os.environ.get("OMP_NUM_THREADS", os.cpu_count())))
    data = json.loads(Path(args.recipe).read_text())
    data.pop("name", None), data.pop("description", None)
    data["train"]["train_size"] = args.train_size
    recipe = Recipe.from_dict(apply_overrides(data, args.set))
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(recipe, Path(tmp) / "run", device="cpu")   # joins the ranks' group under --nproc
        losses, t0 = [], None
        for step in range(args.steps):
            if step == args.warmup:
                t0 = time.perf_counter()
            losses.append(trainer.train_step())
        seconds = time.perf_counter() - t0
    world = getattr(trainer, "world_size", 1)      # an older comet-zoo has no ranks
    if world > 1:
        from comet_zoo.train.distributed import shutdown

        shutdown(clean=True)
        if trainer.rank:
            return
    timed = args.steps - args.warmup
    tenth = max(1, args.steps // 10)
    print(json.dumps({
        "name": args.name, "comet_zoo": str(Path(comet_zoo.__file__).parent), "recipe": args.recipe, "sets": args.set,
        "threads": torch.get_num_threads(), "nproc": world, "steps": args.steps, "steps_per_s": round(timed / seconds, 3),
        "img_per_s": round(timed * recipe.train.batch_size / seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "loss_by_tenth": [round(sum(losses[i:i + tenth]) / len(losses[i:i + tenth]), 5)
                          for i in range(0, args.steps, tenth)],
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }), flush=True)
    if args.log:
        Path(args.log).write_text(json.dumps(losses))


if __name__ == "__main__":
    main()
