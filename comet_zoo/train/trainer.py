"""Algorithm 1 of the paper: encode x into {z_k}, unroll N descent steps from
x_0 ~ U(0, 1) on Σ_k E(x, z_k), minimise MSE(x_N, x).

Gradients flow through the last `grad_steps` unrolled steps only (truncated
back-propagation, as in the official code, which detaches every earlier step);
the earlier steps are computed for their gradient in x alone, so their graphs
are freed immediately. Checkpoints are single safetensors files (model,
optimiser, RNG state, step), written atomically, so `resume` continues the
exact run: same batches, same noise, same final weights.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

from .._io import atomic_path
from ..architectures import build_model, kind_of, resolve_model
from ..core.device import resolve_device
from ..core.model import COMET
from ..core.sampler import SAMPLERS
from ..core.weights import transfer_weights
from ..data import build_dataset, load_dataset, reads_from_disk
from ..data.images import grid, save_png
from ..errors import CometError, CometRuntimeError
from .distributed import all_reduce_mean, init_from_env
from .lock import RunLock
from .recipe import RECIPE, Recipe

CHECKPOINT = "checkpoint.safetensors"
# Settings a resumed run may change without changing the run itself.
RESUMABLE_CHANGES = ("total_steps", "checkpoint_every", "log_every", "compile", "channels_last", "decay_steps", "min_lr",
                     "micro_batch", "precision")


# Model settings of inference only: training never refines latents, so they do not change a run.
INFERENCE_ONLY = ("refine_steps", "refine_lr")


def _run_identity(recipe: dict) -> dict:
    train = {k: v for k, v in recipe.get("train", {}).items() if k not in RESUMABLE_CHANGES}
    model = recipe.get("model")
    if isinstance(model, dict):
        model = {k: v for k, v in model.items() if k not in INFERENCE_ONLY}
    return {"model": model, "train": train}


@dataclass
class StepStats:
    step: int
    loss: float
    images_per_s: float


def _with_defaults(text: str) -> dict:
    """A checkpoint's recipe with today's defaults for the fields added since it was written
    (a new setting at its default does not change a run, so old checkpoints still resume)."""
    try:
        return Recipe.from_dict(json.loads(text)).to_dict()
    except (CometError, ValueError, TypeError):
        return json.loads(text) if text.strip().startswith("{") else {}


def _logged_step(line: str) -> float:
    try:
        return json.loads(line)["step"]
    except (ValueError, KeyError, TypeError):
        return float("inf")   # a torn last line (killed mid-write) goes too


class Trainer:
    def __init__(self, recipe: Recipe, out_dir: str | Path, device: str = "cpu", resume: bool = False,
                 overwrite: bool = False):
        """A run in `out_dir`. A folder that already holds a run is continued (`resume`) or
        started over (`overwrite`: its checkpoint, log and samples go); never silently replaced."""
        # Tiny weights early in training produce denormals; flushing them made CPU steps ~4x faster.
        torch.set_flush_denormal(True)
        self.recipe, self.cfg = recipe, recipe.train
        self.out_dir = Path(out_dir)
        # One writer per run folder, before anything in it is read or removed (in a data-parallel
        # run, rank 0 writes and holds it). Released by close(), or when this process ends.
        self.run_lock = RunLock(self.out_dir)
        if int(os.environ.get("RANK", "0") or 0) == 0:
            self.run_lock.acquire()
        held = [name for name in (CHECKPOINT, "log.jsonl") if (self.out_dir / name).exists()]
        if held and not resume and not overwrite:
            raise CometError(f"{self.out_dir} already holds a run ({', '.join(held)}); continue it with --resume "
                             "or start over with --overwrite")
        if overwrite and not resume:
            for name in held:
                (self.out_dir / name).unlink()
        # A run killed mid-write leaves its atomic writes' temporaries (".checkpoint.safetensors.x.tmp",
        # tens of MB); this process owns the folder now, so they go.
        for folder in (self.out_dir, self.out_dir / "model"):
            for stale in folder.glob(".*.tmp") if folder.is_dir() else []:
                stale.unlink(missing_ok=True)
        self.device = resolve_device(device)
        self.rank, self.world_size = init_from_env(self.device)
        if self.cfg.batch_size % self.world_size:
            raise CometError(f"batch_size {self.cfg.batch_size} does not split over {self.world_size} processes")
        if self.device.type == "cuda" and self.world_size > 1:
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.manual_seed(self.cfg.seed)
        self.model = build_model(recipe.model).to(self.device)  # COMET, or a baseline by model.kind
        self.fresh_tensors: list[str] = []   # with init_from: the tensors the source model lacked
        if self.cfg.init_from and not resume:
            self.fresh_tensors = self.start_from(self.cfg.init_from)
        self.memory_format = torch.channels_last if self.cfg.channels_last else torch.contiguous_format
        self.model.to(memory_format=self.memory_format)
        if self.cfg.compile and isinstance(self.model, COMET):
            self.model.compile()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr)
        # One generator draws every batch index and every x_0: its state makes a run resumable.
        self.generator = torch.Generator().manual_seed(self.cfg.seed)
        self.step = 0
        options = {"size": recipe.model.image_size, **self.cfg.dataset_options}
        dataset = build_dataset(self.cfg.dataset, **options)
        scenes = None
        if reads_from_disk(dataset):
            # A collection on disk (your own images): every training image, read batch by batch
            # (train_size does not apply); the next batch is decoded while a step runs.
            self.dataset = dataset
            self.images = dataset.lazy("train", self.cfg.seed)
            self.preview = dataset.generate("test", min(8, dataset.count("test")), self.cfg.seed).images
        else:
            scenes = load_dataset(self.cfg.dataset, "train", self.cfg.train_size, self.cfg.seed, **options)
            # Stored as uint8 [N, 3, H, W]: 4x less memory than float32.
            self.images = torch.from_numpy(scenes.images).mul(255).round().to(torch.uint8)
            self.preview = load_dataset(self.cfg.dataset, "test", 8, self.cfg.seed, **options).images
        if self.images.shape[-1] != recipe.model.image_size:
            raise CometError(f"dataset images are {self.images.shape[-1]}px, the model expects {recipe.model.image_size}px")
        # Objects per training scene [N] (the largest mask label), for the curriculum.
        self.object_counts = None
        if self.cfg.curriculum_steps:
            if scenes is None or scenes.masks is None:
                raise CometError(f"train.curriculum_steps needs a data set with masks to count objects; "
                                 f"{self.cfg.dataset} has none")
            self.object_counts = torch.from_numpy(scenes.masks.reshape(len(scenes.masks), -1).max(1))
        if resume:
            self.load_checkpoint()

    def start_from(self, ref: str) -> list[str]:
        """Copy the weights of model `ref` (hub name or folder) into the fresh model."""
        source, _ = resolve_model(ref)
        if kind_of(source) != kind_of(self.recipe.model):
            raise CometError(f"train.init_from {ref} is a {kind_of(source)} model; this recipe trains "
                             f"a {kind_of(self.recipe.model)} model")
        return transfer_weights(self.model, source.state_dict(), f"train.init_from {ref}")

    # -- one step of Algorithm 1 ----------------------------------------------
    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's slice of the next global batch: (x, x_0), each [B / world, 3, H, W].

        Every rank draws the same global batch from the run's generator, so the
        run does not depend on how many processes share it.
        """
        idx = torch.randint(len(self.images), (self.cfg.batch_size,), generator=self.generator)
        pool = self.curriculum_pool()
        if pool is not None:  # the same draw, mapped onto the scenes the curriculum allows now
            idx = pool[idx % len(pool)]
        x0 = torch.rand((self.cfg.batch_size, *self.images.shape[1:]), generator=self.generator)
        per = self.cfg.batch_size // self.world_size
        mine = slice(self.rank * per, (self.rank + 1) * per)
        x = self.images[idx[mine]].to(self.device, torch.float32) / 255.0
        if hasattr(self.images, "prefetch"):   # read from disk: decode the next batch during this step
            ahead = torch.Generator().manual_seed(0)
            ahead.set_state(self.generator.get_state())                  # the next draw, without taking it
            self.images.prefetch(torch.randint(len(self.images), (self.cfg.batch_size,), generator=ahead)[mine])
        return (x.contiguous(memory_format=self.memory_format),
                x0[mine].to(self.device).contiguous(memory_format=self.memory_format))

    def curriculum_pool(self) -> torch.Tensor | None:
        """Indices of the scenes the object-count curriculum allows at this step (None: all)."""
        if self.object_counts is None or self.step >= self.cfg.curriculum_steps:
            return None
        lo, hi = int(self.object_counts.min()), int(self.object_counts.max())
        allowed = lo + (hi - lo) * self.step // self.cfg.curriculum_steps     # rises lo → hi
        return torch.nonzero(self.object_counts <= allowed).flatten()

    def loss(self, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        if not isinstance(self.model, COMET):   # a baseline brings its own objective (x0 unused)
            return self.model.training_loss(x)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.precision == "bf16"):
            z = self.model.infer(x, refine=0)                                    # [B, K, D], the encoder's
            x_n = self.model.generate(z, x0=x0, grad_steps=self.cfg.grad_steps,  # [B, 3, H, W]
                                      schedule=SAMPLERS[self.cfg.sampler],
                                      bf16_free_steps=self.cfg.precision == "bf16-descent")
        return F.mse_loss(x_n.float(), x)

    def lr_at(self, step: int) -> float:
        """Linear warm-up, then constant, then (decay_steps > 0) linear decay to min_lr at total_steps."""
        cfg = self.cfg
        if cfg.warmup and step < cfg.warmup:
            return cfg.lr * (step + 1) / cfg.warmup
        start = cfg.total_steps - cfg.decay_steps
        if cfg.decay_steps and step >= start:
            done = min(1.0, (step - start + 1) / cfg.decay_steps)
            return cfg.lr + (cfg.min_lr - cfg.lr) * done
        return cfg.lr

    def train_step(self) -> float:
        x, x0 = self.batch()
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.step)
        self.optimizer.zero_grad(set_to_none=True)
        # MSE is a mean over the batch: micro-batch losses weighted by their share sum to it,
        # and so do their gradients; each micro-batch's graph is freed by its backward.
        m = self.cfg.micro_batch or len(x)
        loss = torch.zeros((), device=x.device)
        for i in range(0, len(x), m):
            part = self.loss(x[i:i + m], x0[i:i + m]) * (len(x[i:i + m]) / len(x))
            part.backward()
            loss = loss + part.detach()
        # The mean over ranks of equal slices is the loss of the global batch.
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        loss = loss.detach()
        all_reduce_mean(grads + [loss.view(1)])
        if not torch.isfinite(loss):
            kept = (f"the last good checkpoint is kept in {self.out_dir}" if (self.out_dir / CHECKPOINT).is_file()
                    else "no checkpoint had been written yet")
            raise CometError(f"loss became {loss.item()} at step {self.step}; {kept}")
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        self.step += 1
        return loss.item()

    def run(self, until: int | None = None, on_step: Callable[[StepStats], None] | None = None,
            time_limit: float | None = None) -> bool:
        """Train to step `until` (default: the recipe's total), checkpointing on the way.

        `time_limit` (seconds of wall time) stops earlier, after a checkpoint; the
        run then continues later with `resume`. Returns True when `until` was reached.
        """
        until = self.cfg.total_steps if until is None else until
        deadline = None if time_limit is None else time.perf_counter() + time_limit
        self.model.train()
        log = self.out_dir / "log.jsonl"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        while self.step < until:
            t0 = time.perf_counter()
            loss = self.train_step()
            stats = StepStats(self.step, loss, self.cfg.batch_size / (time.perf_counter() - t0))
            out_of_time = deadline is not None and self._all_agree(time.perf_counter() >= deadline)
            if self.rank == 0:  # rank 0 alone reports and writes
                if on_step:
                    on_step(stats)
                if self.step % self.cfg.log_every == 0 or self.step == 1:  # the log exists from step 1
                    line = json.dumps({"step": self.step, "loss": loss, "images_per_s": stats.images_per_s}) + "\n"
                    try:
                        with log.open("a") as f:
                            f.write(line)
                    except OSError as exc:   # a full disk or a folder made read-only: one line, not a traceback
                        raise CometRuntimeError(f"cannot write {log}: {exc.strerror or exc}") from None
                if self.step % self.cfg.checkpoint_every == 0 or self.step == until or out_of_time:
                    self.save_checkpoint()
                    # progress you can look at: test inputs over their reconstructions, per checkpoint
                    self.save_samples(self.out_dir / "samples" / f"step-{self.step:07d}.png")
            if out_of_time:
                return False
        return True

    def _all_agree(self, flag: bool) -> bool:
        """True on every rank when any rank says so (ranks' clocks differ; all must stop at one step)."""
        if self.world_size == 1:
            return flag
        t = torch.tensor([float(flag)], device=self.device)
        all_reduce_mean([t])
        return t.item() > 0

    def close(self) -> None:
        """Let another process write into this run folder (also done when this process ends)."""
        self.run_lock.release()

    # -- outputs ---------------------------------------------------------------
    def save_samples(self, path: str | Path | None = None) -> Path:
        """Inputs of the test preview set (top) over their reconstructions (bottom)."""
        x = torch.from_numpy(self.preview).to(self.device)
        self.model.eval()
        if isinstance(self.model, COMET):
            # The encoder's latents, unrefined (as training sees them): a config's refine_steps
            # (hundreds of Adam steps per picture) would stall every checkpoint.
            with torch.no_grad():
                z = self.model.infer(x, refine=0)                                     # [B, K, D]
            recon = self.model.generate(z, generator=torch.Generator().manual_seed(0)).detach()
        else:
            recon = self.model.reconstruct(x, generator=torch.Generator().manual_seed(0))
        self.model.train()
        both = torch.cat([x.cpu(), recon.cpu()])
        return save_png(grid(both, nrow=len(x), scale=max(1, 128 // x.shape[-1])), path or self.out_dir / "samples.png")

    def export(self, directory: str | Path | None = None) -> Path:
        """The trained model as a hub folder: model.safetensors + config.json, and the
        recipe it was trained with (recipe.json: its data set and options, which `comet
        push` renders exemplars from and `comet eval` evaluates on)."""
        directory = Path(directory or self.out_dir / "model")
        try:
            self.model.save_pretrained(directory)
        except OSError as exc:   # a full disk or a read-only folder
            raise CometRuntimeError(f"cannot write {directory}: {exc.strerror or exc}") from None
        with atomic_path(directory / RECIPE) as tmp:
            tmp.write_text(json.dumps(self.recipe.to_dict(), indent=2) + "\n", encoding="utf-8")
        return directory

    # -- checkpoints: one safetensors file, nothing pickled -----------------------
    def save_checkpoint(self) -> Path:
        tensors = {f"model/{k}": v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        for i, state in self.optimizer.state_dict()["state"].items():
            for name, value in state.items():
                tensors[f"optim/{i}/{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
        tensors["rng/generator"] = self.generator.get_state()
        tensors["rng/torch"] = torch.get_rng_state()
        meta = {"step": str(self.step), "recipe": json.dumps(self.recipe.to_dict())}
        path = self.out_dir / CHECKPOINT
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=meta)
        return path

    def load_checkpoint(self) -> None:
        path = self.out_dir / CHECKPOINT
        if not path.is_file():
            raise CometError(f"nothing to resume: {path} does not exist")
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as exc:
            raise CometError(f"cannot read checkpoint {path}: {exc}") from None
        if _run_identity(_with_defaults(meta.get("recipe", "{}"))) != _run_identity(self.recipe.to_dict()):
            raise CometError(f"{path} was written by a different recipe; resume with the same recipe")
        model_state = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
        self.model.load_state_dict(model_state, strict=True)
        optim_state: dict[int, dict] = {}
        for key, value in tensors.items():
            if key.startswith("optim/"):
                _, i, name = key.split("/", 2)
                optim_state.setdefault(int(i), {})[name] = value.to(self.device) if name != "step" else value
        self.optimizer.load_state_dict({"state": optim_state, "param_groups": self.optimizer.state_dict()["param_groups"]})
        self.generator.set_state(tensors["rng/generator"])
        torch.set_rng_state(tensors["rng/torch"])
        self.step = int(meta["step"])
        self._trim_log()

    def _trim_log(self) -> None:
        """Drop log lines after the checkpoint's step (written before a kill): a resumed run
        logs those steps again, and each step must appear once."""
        log = self.out_dir / "log.jsonl"
        if self.rank != 0 or not log.is_file():
            return
        lines = log.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if _logged_step(line) <= self.step]
        if len(kept) != len(lines):
            with atomic_path(log) as tmp:
                tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

