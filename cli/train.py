"""`comet train RECIPE`: the paper's Algorithm 1 with a progress bar and checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ._console import console


def train(
    recipe: Optional[str] = typer.Argument(
        None, help="Recipe file (.json/.yaml) or bundled recipe name, e.g. quickstart; optional with --data "
        "(default: photos-small, global factors)."),
    data: List[str] = typer.Option(
        [], "--data", help="Train on this data instead of the recipe's: a folder of images, hf:ORG/NAME, a "
        "save_to_disk folder, parquet files or a data set name; repeat it (VALUE*WEIGHT) for a mixture."),
    size: Optional[int] = typer.Option(None, "--size", help="Image size in pixels (overrides the recipe's)."),
    components: Optional[int] = typer.Option(None, "--components", help="Number of components K (overrides the recipe's)."),
    strict: bool = typer.Option(False, "--strict", help="Refuse a collection with any bad file (corrupt, empty, too "
                                "small, mixed modes...) instead of skipping and counting it."),
    out: Path = typer.Option(Path("runs/comet"), "--out", "-o", help="Run folder: checkpoint, model/, samples.png."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the run folder's checkpoint."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start over in a run folder that holds a run."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Override the recipe's total steps."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda[:N]."),
    encoder: Optional[str] = typer.Option(None, "--encoder", help="Override the encoder plugin (name or dist:name)."),
    init_from: Optional[str] = typer.Option(
        None, "--init-from", help="Fine-tune: start from this model's weights (zoo name, name@version or model "
        "folder) instead of a random init; tensors it lacks (an added component's) start fresh."),
    nproc: int = typer.Option(1, "--nproc", help="Data-parallel processes on this machine (gloo on CPU, NCCL on GPU)."),
    compile: bool = typer.Option(False, "--compile", help="torch.compile the descent steps that need no double backward."),
    bf16: bool = typer.Option(False, "--bf16", help="bf16 autocast and channels_last: about 1.6x faster on GPUs and on CPUs "
                              "with AMX or AVX-512 BF16, slower on other CPUs (docs/performance.md)."),
    time_limit: Optional[float] = typer.Option(
        None, "--time-limit", help="Stop after this many minutes of training (checkpointed; continue with --resume)."),
) -> None:
    """Train a COMET model from a recipe (the paper's Algorithm 1)."""
    import math
    import os

    if nproc != 1 and "WORLD_SIZE" not in os.environ:
        from comet_zoo.train.distributed import launch

        argv = ["train", *([recipe] if recipe is not None else []), "--out", str(out), "--device", device]
        for value in data:
            argv += ["--data", value]
        argv += ["--size", str(size)] if size is not None else []
        argv += ["--components", str(components)] if components is not None else []
        argv += ["--strict"] if strict else []
        argv += ["--resume"] if resume else []
        argv += ["--overwrite"] if overwrite else []
        argv += ["--steps", str(steps)] if steps is not None else []
        argv += ["--encoder", encoder] if encoder is not None else []
        argv += ["--init-from", init_from] if init_from is not None else []
        argv += ["--compile"] if compile else []
        argv += ["--bf16"] if bf16 else []
        argv += ["--time-limit", str(time_limit)] if time_limit is not None else []
        launch(argv, nproc)
        return
    from comet_zoo.errors import CometError
    from comet_zoo.train.distributed import shutdown
    from comet_zoo.train.recipe import Recipe, resolve_recipe
    from comet_zoo.train.trainer import Trainer

    from comet_zoo.train.recipe import DEFAULT_DATA_RECIPE, apply_data, data_spec

    if recipe is None and not data:
        raise CometError("name a recipe (e.g. quickstart), or give your images with --data ./photos")
    if strict and not data:
        raise CometError("--strict applies to --data (or set strict in the recipe's dataset_options)")
    spec = Recipe.load(resolve_recipe(recipe or DEFAULT_DATA_RECIPE))
    if data or size is not None or components is not None:
        if data:
            dataset, options = data_spec(data, strict=strict)
        else:
            dataset, options = spec.train.dataset, spec.train.dataset_options
        spec = apply_data(spec, dataset, options, size=size, components=components)
    if steps is not None:
        if steps < 1:
            raise CometError(f"--steps must be >= 1, got {steps}")
        spec.train.total_steps = steps
    if encoder is not None:
        spec.model.encoder = encoder
    if init_from is not None:
        spec.train.init_from = init_from
    spec.train.compile = spec.train.compile or compile
    if bf16:   # engine levers: a resumed run may switch them on (results equal within bf16 rounding)
        spec.train.precision, spec.train.channels_last = "bf16", True
    if time_limit is not None and not (math.isfinite(time_limit) and time_limit > 0):
        raise CometError(f"--time-limit must be a number of minutes > 0, got {time_limit}")
    clean = False
    try:
        # Rendering the training set takes a while before the first step: say so.
        with console.status(f"preparing the training data ({spec.train.dataset})"):
            trainer = Trainer(spec, out, device=device, resume=resume, overwrite=overwrite)
        summary = getattr(getattr(trainer, "dataset", None), "summary", None)
        if summary is not None and trainer.rank == 0:   # what was used, skipped and converted: never silent
            console.print(summary(), highlight=False, markup=False)
        skipped = len(getattr(getattr(trainer, "dataset", None), "problems", ()))
        _train(trainer, spec, out, None if time_limit is None else time_limit * 60)
        problems = getattr(getattr(trainer, "dataset", None), "problems", [])
        if len(problems) > skipped and trainer.rank == 0:   # found while decoding batches: replaced and counted
            console.print(f"skipped {len(problems) - skipped} more unreadable images while training (each replaced by "
                          f"the next readable one), e.g. {problems[skipped][0]}: {problems[skipped][1]}",
                          highlight=False, markup=False)
        clean = True
    finally:
        shutdown(clean)


def _train(trainer, spec, out: Path, time_limit: float | None) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    if trainer.rank != 0:
        trainer.run(time_limit=time_limit)
        return
    console.print(f"training {trainer.model.num_parameters():,} parameters on {trainer.device}"
                  f"{f' × {trainer.world_size} processes' if trainer.world_size > 1 else ''} → {out}")
    if trainer.fresh_tensors:
        console.print(f"from {spec.train.init_from}; new tensors at their random init: {', '.join(trainer.fresh_tensors)}")
    elif spec.train.init_from and trainer.step == 0:
        console.print(f"from {spec.train.init_from}: every tensor")
    import time

    # With --time-limit the run ends at the limit or at total_steps, whichever comes first:
    # the bar counts steps, and the time left is the sooner of the two.
    remaining = TimeRemainingColumn() if time_limit is None else TextColumn("{task.fields[left]} left")
    columns = (TextColumn("train", style="bold"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[ips]} img/s"), TimeElapsedColumn(),
               remaining)
    deadline = None if time_limit is None else time.monotonic() + time_limit

    def left(stats) -> str:
        by_steps = (spec.train.total_steps - stats.step) * spec.train.batch_size / max(stats.images_per_s, 1e-9)
        seconds = int(min(by_steps, max(0.0, deadline - time.monotonic())))
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"

    with Progress(*columns, console=console) as progress:
        task = progress.add_task("train", total=spec.train.total_steps, completed=trainer.step, loss="-", ips="-",
                                 left="-")
        finished = trainer.run(time_limit=time_limit, on_step=lambda s: progress.update(
            task, completed=s.step, loss=f"{s.loss:.4f}", ips=f"{s.images_per_s:.0f}",
            left=left(s) if deadline is not None else "-"))
    if not finished:
        console.print(f"time limit reached at step {trainer.step}; checkpoint kept (continue with --resume)")
    model_dir = trainer.export()
    samples = trainer.save_samples()
    console.print(f"model → {model_dir}\nsamples (inputs over reconstructions) → {samples}")
