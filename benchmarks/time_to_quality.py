"""Time to a good decomposition: train from scratch under a wall-clock budget and
score the fixed test set as training goes.

    python benchmarks/time_to_quality.py --case clevr32 --minutes 60 --name base \
        [--set model.stem_stride=1 --set train.lr=3e-4 ...] [--out runs/ttq] [--eval-every 120]
    python benchmarks/time_to_quality.py --recipe comet_zoo/recipes/clevr.json --keep-best fg_ari_clean --name zoo
    python benchmarks/time_to_quality.py --recipe comet_zoo/recipes/clevr64.json --nproc 2   # 2 gloo ranks
    python benchmarks/time_to_quality.py --plot runs/ttq      # redraw the plot from the logs
    python benchmarks/time_to_quality.py --table runs/ttq     # markdown rows from the logs

Every `--eval-every` seconds of training (evaluation time is not counted) it logs
one JSON line: steps, training minutes, fg-ARI / ARI / coverings of the gradient
segmentation (the paper's argmax, `*_clean`: the CLEAN read-out, `*_smooth`: SMOOTH),
reconstruction MSE, and the stripes and k-means colour baselines on the same scenes; on data
with factors (falcor) MIG, MCC, BetaVAE and DCI-D by `comet eval`'s protocol. Lines go to stdout and to OUT/NAME.jsonl; the run
folder OUT/NAME holds the checkpoint and, at the end, the exported model; with
`--keep-best`, OUT/NAME/best is the model at the best evaluation so far (these 256
scenes, seed 1234: not the ones `comet eval` reports on, seed 0); with `--keep-every`,
OUT/NAME/at/STEP is the model at every evaluation. The
plot OUT/fg_ari.png draws fg-ARI against minutes, one curve per variant, with the
stripes baseline dashed. Run variants as separate processes (e.g. with
OMP_NUM_THREADS=1 side by side) and compare their curves.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import time
from pathlib import Path


def case(dataset: str, options: dict, *, size: int = 32, k: int = 4, pos_embed: list | None = None,
         latent: int = 16, width: int = 32, stem_stride: int = 2, encoder: str = "recurrent",
         train_size: int = 8192) -> dict:
    """A recipe of the benchmark: N 5, λ 1000, batch 32, lr 1e-3; checkpoints every 500 steps."""
    return {
        "model": {"image_size": size, "num_components": k, "latent_dim": latent, "width": width, "num_blocks": 3,
                  "stem_stride": stem_stride, "encoder": encoder, "pos_embed": pos_embed or [True] * k,
                  "steps": 5, "step_size": 1000.0},
        "train": {"dataset": dataset, "dataset_options": options, "train_size": train_size, "batch_size": 32,
                  "lr": 1e-3, "total_steps": 10**7, "checkpoint_every": 500, "log_every": 100},
    }


CLEVR_2_3 = {"min_objects": 2, "max_objects": 3}
CASES = {
    "clevr32": case("clevr", CLEVR_2_3),   # 32x32 CLEVR-like scenes with 2-3 objects (the CPU case)
    # 64x64, 3-6 objects (the GPU case)
    "clevr64": case("clevr", {"min_objects": 3, "max_objects": 6}, size=64, k=7, width=64, train_size=16384),
    # the zoo's lighting model: component 0 global (no positional embedding) for the light
    "clevr-lighting": case("clevr-lighting", CLEVR_2_3, k=5, pos_embed=[False] + [True] * 4),
    "clevr-toy": case("clevr-toy", CLEVR_2_3),
    # global factors (no masks: only reconstruction is scored): conv encoder, latent 64
    "falcor": case("falcor", {}, size=64, latent=64, encoder="conv", pos_embed=[False] * 4),
    "tetrominoes": case("tetrominoes", {}, size=35, stem_stride=1),
    # Table 1's baseline in the same harness: Slot Attention on clevr32's data and test scenes
    "clevr32-slot-attention": {
        "model": {"kind": "slot-attention", "image_size": 32, "num_components": 4, "latent_dim": 32, "width": 32,
                  "iterations": 3},
        "train": {**case("clevr", CLEVR_2_3)["train"]}},
}
TEST_SCENES = 256
CHUNK = 20   # training steps between looks at the clock


def apply_overrides(recipe: dict, sets: list[str]) -> dict:
    """`section.key=value` (value parsed as JSON when it can be) into a copy of the recipe."""
    recipe = json.loads(json.dumps(recipe))
    for item in sets:
        path, _, raw = item.partition("=")
        section, _, key = path.partition(".")
        if section not in recipe or not key or not _:
            raise SystemExit(f"--set expects model.KEY=VALUE or train.KEY=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        recipe[section][key] = value
    if "pos_embed" in recipe["model"] and len(recipe["model"]["pos_embed"]) != recipe["model"]["num_components"]:
        recipe["model"]["pos_embed"] = [recipe["model"]["pos_embed"][0]] * recipe["model"]["num_components"]
    return recipe


def evaluate(model, images, masks, k, factors=None) -> dict:
    import torch

    from comet_zoo.eval.metrics import mse, segmentation_scores
    from comet_zoo.eval.segment import (
        ARGMAX,
        CLEAN,
        SMOOTH,
        gradient_maps,
        labels_from_maps,
    )

    model.eval()
    device = next(model.parameters()).device
    x = torch.from_numpy(images).to(device)
    baseline = hasattr(model, "segment")          # Slot Attention: random slot starts, decoded in one pass
    with torch.no_grad():
        # COMET: the encoder's latents. The harness follows training; refinement, an inference
        # setting, is scored by benchmarks/latent_refinement.py.
        z = model.infer(x, torch.Generator().manual_seed(0)) if baseline else model.infer(x, refine=0)
    # x_0 from a CPU generator: the same start on the CPU and on a GPU.
    x0 = None if baseline else model.initial_image(len(x), torch.Generator().manual_seed(0))
    recon = model.generate(z, x0=x0).detach()
    scores = {"mse": mse(recon.cpu().numpy(), images)}
    if masks is not None and baseline:   # the baseline's own read-out (Slot Attention: largest alpha)
        own = segmentation_scores(masks, model.segment(x, slots=z).cpu().numpy())
        scores.update({**own, **{f"{key}_{name}": v for key, v in own.items() for name in ("clean", "smooth")}})
    elif masks is not None:  # falcor has factors, no masks: reconstruction only
        maps = gradient_maps(model, x, recon)                           # [N, K, H, W], once for both read-outs
        scores.update(segmentation_scores(masks, labels_from_maps(maps, ARGMAX).cpu().numpy()))   # the paper's
        for name, readout in (("clean", CLEAN), ("smooth", SMOOTH)):
            read = segmentation_scores(masks, labels_from_maps(maps, readout).cpu().numpy())
            scores.update({f"{key}_{name}": v for key, v in read.items()})
    if factors is not None and not baseline:   # falcor: the paper's disentanglement protocol on these scenes
        from comet_zoo.eval.evaluate import disentanglement

        dis = disentanglement(z.float().cpu().numpy(), factors)
        scores.update({key: dis[key] for key in ("mig", "mcc", "betavae", "dci_disentanglement")})
    model.train()
    return scores


def run(args) -> None:
    import torch

    from comet_zoo._io import atomic_path
    from comet_zoo.data import load_dataset
    from comet_zoo.eval.baselines.trivial import baseline_scores
    from comet_zoo.train.distributed import from_rank0, shutdown
    from comet_zoo.train.recipe import Recipe
    from comet_zoo.train.trainer import Trainer

    base_spec = json.loads(Path(args.recipe).read_text()) if args.recipe else CASES[args.case]
    spec = apply_overrides({k: base_spec[k] for k in ("model", "train")}, args.set)
    spec["train"]["seed"] = args.seed
    recipe = Recipe.from_dict(spec)
    out = Path(args.out)
    log = out / f"{args.name}.jsonl"
    out.mkdir(parents=True, exist_ok=True)
    # Under --nproc, rank 0 alone scores, logs and writes; the other ranks wait for it in
    # their next all-reduce, so the group's timeout must outlast an evaluation.
    os.environ.setdefault("COMET_DIST_TIMEOUT", "3600")
    trainer = Trainer(recipe, out / args.name, device=args.device, resume=args.resume)
    k = recipe.model.num_components
    if trainer.rank != 0:
        return _follow(trainer)
    options = {"size": recipe.model.image_size, **recipe.train.dataset_options}
    test = load_dataset(recipe.train.dataset, "test", TEST_SCENES, 1234, **options)
    base = baseline_scores(test.images, test.masks, k) if test.masks is not None else None
    header = {"case": args.recipe or args.case, "variant": args.name, "overrides": args.set, "recipe": recipe.to_dict(),
              "threads": torch.get_num_threads(), "nproc": trainer.world_size, "machine": f"{platform.machine()} {os.cpu_count()} cores",
              "device": str(trainer.device), "gpu": torch.cuda.get_device_name(trainer.device) if trainer.device.type == "cuda" else None,
              "stripes_fg_ari": base and base["stripes"]["fg_ari"],
              "grid_fg_ari": base and base["grid"]["fg_ari"],
              "kmeans_fg_ari": base and base["kmeans_colour"]["fg_ari"], "test_scenes": TEST_SCENES}
    print(json.dumps(header), flush=True)
    with log.open("a") as f:
        f.write(json.dumps(header) + "\n")
    # A resumed run's curve continues where its log left off: --minutes more of training.
    done = [json.loads(line) for line in log.read_text().splitlines() if '"train_min"' in line] if args.resume else []
    trained_s = done[-1]["train_min"] * 60 if done else 0.0
    budget, next_eval = trained_s + args.minutes * 60, trained_s
    best_file = out / args.name / "best" / "score.json"
    best = json.loads(best_file.read_text())[args.keep_best] if args.keep_best and best_file.is_file() else None
    # SIGINT/SIGTERM (e.g. an outer `timeout`) ends the run between steps: scored, checkpointed, exported.
    interrupted = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: interrupted.append(True))
    while True:
        if interrupted:
            budget = trained_s
        # Rank 0's clock decides for every rank: [score now, stop after scoring].
        score, stop = from_rank0([trained_s >= next_eval or trained_s >= budget, trained_s >= budget], trainer.device)
        if score:
            t_eval = time.perf_counter()
            scores = evaluate(trainer.model, test.images, test.masks, k, test.factors)
            line = {"variant": args.name, "step": trainer.step, "train_min": round(trained_s / 60, 2),
                    **{key: round(v, 4) for key, v in scores.items()},
                    "stripes_fg_ari": base and round(base["stripes"]["fg_ari"], 4),
                    "eval_s": round(time.perf_counter() - t_eval, 1)}
            print(json.dumps(line), flush=True)
            with log.open("a") as f:
                f.write(json.dumps(line) + "\n")
            if args.keep_every:
                # Every scored model, for a choice by more than one metric afterwards (e.g. fg-ARI and MSC).
                trainer.export(out / args.name / "at" / str(trainer.step))
            if args.keep_best and (best is None or scores[args.keep_best] > best):
                # The best point so far, by the selection metric on these (not comet eval's) scenes:
                # a long run's score can drift down after its peak (docs/time_to_quality.md, round 6).
                best = scores[args.keep_best]
                trainer.export(best_file.parent)
                with atomic_path(best_file) as tmp:
                    tmp.write_text(json.dumps(line) + "\n")
            next_eval += args.eval_every
            if stop:
                break
        t0 = time.perf_counter()
        for _ in range(CHUNK):
            if interrupted and trainer.world_size == 1:   # ranks end a chunk together
                break
            trainer.train_step()
        trained_s += time.perf_counter() - t0
        if trainer.step % recipe.train.checkpoint_every < CHUNK:
            trainer.save_checkpoint()
    trainer.save_checkpoint()
    trainer.export()
    shutdown(clean=True)
    plot(out)


def _follow(trainer) -> None:
    """A rank other than 0 under --nproc: train the chunks rank 0 decides on, and nothing else."""
    from comet_zoo.train.distributed import from_rank0, shutdown

    while True:
        _, stop = from_rank0([0.0, 0.0], trainer.device)
        if stop:
            break
        for _ in range(CHUNK):
            trainer.train_step()
    shutdown(clean=True)


def plot(out: Path, x: str = "train_min", y: str = "fg_ari") -> Path:
    """`y` (fg_ari, msc_clean, …) against `x` (train_min, or step: the fair axis when runs
    shared a loaded machine), one curve per OUT/*.jsonl; stripes dashed on fg-ARI plots.
    Written to OUT/fg_ari.png for the default, else OUT/<y>_by_<x>.png."""
    from PIL import Image, ImageDraw

    from comet_zoo.data.images import save_png

    curves = {}
    stripes = None
    for path in sorted(out.glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        points = [(r[x], r[y]) for r in rows if y in r]
        stripes = next((r["stripes_fg_ari"] for r in rows if "stripes_fg_ari" in r), stripes)
        if points:
            curves[path.stem] = points
    w, h, m = 640, 400, 50
    im = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(im)
    t_max = max([p[0] for pts in curves.values() for p in pts] + [1.0])
    sx = lambda t: m + (w - 2 * m) * t / t_max
    sy = lambda v: h - m - (h - 2 * m) * max(0.0, min(1.0, v))
    d.line([(m, h - m), (w - m, h - m)], fill="black")
    d.line([(m, m), (m, h - m)], fill="black")
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        d.text((8, sy(v) - 6), f"{v:.2f}", fill="black")
    axis = "training minutes" if x == "train_min" else "training steps"
    d.text((w // 2 - 60, h - m + 18), f"{axis} (0..{t_max:.0f})", fill="black")
    d.text((m, 12), f"{y} of gradient segmentation vs. {axis}", fill="black")
    colours = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
               "#7f7f7f", "#bcbd22", "#000080", "#00a000"]
    for i, (name, pts) in enumerate(curves.items()):
        c = colours[i % len(colours)]
        d.line([(sx(t), sy(v)) for t, v in pts], fill=c, width=2) if len(pts) > 1 else None
        d.text((w - m - 150, m + 14 * i), name, fill=c)
    if stripes is not None and y.startswith("fg_ari"):
        for px in range(m, w - m, 12):
            d.line([(px, sy(stripes)), (px + 6, sy(stripes))], fill="gray")
        d.text((w - m - 150, sy(stripes) - 14), f"stripes {stripes:.2f}", fill="gray")
    name = "fg_ari.png" if (x, y) == ("train_min", "fg_ari") else f"{y}_by_{x}.png"
    return save_png(im, out / name)


def table(out: Path, every: float = 10.0) -> str:
    """Markdown rows from OUT/*.jsonl: about every `every` training minutes and the last."""
    lines = ["| variant | steps | train min | fg-ARI | ARI | MSC | fg-ARI clean | MSC clean | MSE | stripes fg-ARI |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for path in sorted(out.glob("*.jsonl")):
        rows = [r for r in (json.loads(line) for line in path.read_text().splitlines() if line.strip())
                if "fg_ari" in r]
        shown, mark = [], 0.0
        for r in rows:
            if r["train_min"] >= mark - 0.5:
                shown.append(r)
                mark = r["train_min"] + every
        if rows and shown[-1] is not rows[-1]:
            shown.append(rows[-1])
        for r in shown:
            clean = lambda key, r=r: f"{r[key]:.3f}" if key in r else "–"  # older logs lack the clean read-out
            lines.append(f"| {path.stem} | {r['step']} | {r['train_min']:.1f} | {r['fg_ari']:.3f} | {r['ari']:.3f} | "
                         f"{r['msc']:.3f} | {clean('fg_ari_clean')} | {clean('msc_clean')} | {r['mse']:.4f} | "
                         f"{r['stripes_fg_ari']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=sorted(CASES), default="clevr32")
    parser.add_argument("--recipe", metavar="FILE", help="train this recipe file (e.g. a zoo recipe) instead of a case")
    parser.add_argument("--keep-best", metavar="METRIC", help="export the model to OUT/NAME/best whenever METRIC "
                        "(e.g. fg_ari, fg_ari_clean) reaches a new high; best/score.json holds its line")
    parser.add_argument("--keep-every", action="store_true", help="export the model at every evaluation to "
                        "OUT/NAME/at/STEP (its line is in the log), to choose by more than one metric later")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--name", default="base")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--out", default="runs/ttq")
    parser.add_argument("--eval-every", type=float, default=120.0, help="seconds of training between evaluations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--nproc", type=int, default=1, help="data-parallel processes (gloo on a CPU: pair with "
                        "OMP_NUM_THREADS=1); the same global batch and curve, rank 0 scores and writes")
    parser.add_argument("--plot", metavar="OUT", help="only redraw OUT/fg_ari.png from the logs")
    parser.add_argument("--table", metavar="OUT", help="only print markdown rows from OUT's logs")
    args = parser.parse_args()
    if args.plot:
        for x, y in (("train_min", "fg_ari"), ("step", "fg_ari"), ("step", "fg_ari_clean"), ("step", "msc_clean")):
            print(plot(Path(args.plot), x, y))
        return
    if args.table:
        print(table(Path(args.table)))
        return
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        from comet_zoo.train.distributed import launch

        launch(sys.argv[1:], args.nproc, program=[sys.executable, __file__])
        return
    run(args)


if __name__ == "__main__":
    main()
