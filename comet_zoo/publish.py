"""Publishing: build an artifact from a trained model folder and push it to a hub.

The write side of the hub. It sits above evaluation (a card carries `comet eval`
metrics) and training (a card names its recipe); the hub's read path imports
none of it.

    push(model_dir, name, version, hub=)   build, then publish into a hub (immutable versions)
    build(model_dir, name, version, out)   the artifact folder:

    model.safetensors   the weights as trained and evaluated (float32)
    model.fp16.safetensors  with --fp16: a float16 variant beside them (half the size; the
                        Hub's variant naming), which loads into the same fp32 model
    config.json
    recipe.json         the training recipe (when the card source or the trainer names one)
    exemplars/0.png …   test renders of the training data set
    latents.safetensors the exemplars' latents as compose infers them (encoder + refinement),
                        with the settings and hashes that made them (hub/latents.py)
    reconstructions.png exemplars over their reconstructions
    README.md           the concept card
    SHA256SUMS          sha256 of every file above
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from ._io import MAX_CARD_BYTES, read_bytes
from .errors import CometError, CometRuntimeError
from .hub import home, manifest, push_hub
from .hub.cards import load_source, read_card, render
from .hub.names import check_name, check_version
from .train.recipe import RECIPE

METRIC_SCENES = 64   # test scenes for the card's reconstruction metrics


def _source_for(model_dir: Path, name: str, card_source: str | Path | None) -> dict:
    if card_source is not None:
        source = load_source(card_source)
    elif _is_concept_card(model_dir / "README.md"):  # re-publishing a snapshot keeps its card
        info = read_card(model_dir)
        source = {"title": info.title.split(" (")[0], "concepts": [c.to_dict() for c in info.concepts]}
        if info.training.get("recipe"):
            source["recipe"] = info.training["recipe"]
    else:  # e.g. straight after `comet train`: default concepts from pos_embed, the trainer's recipe
        source = {}
    if not source.get("recipe") and (model_dir / RECIPE).is_file():
        source["recipe"] = str(model_dir / RECIPE)
    if source.get("name") not in (None, name):
        raise CometError(f"card source is for {source['name']!r}, but the model is pushed as {name!r}")
    return source


def _is_concept_card(path: Path) -> bool:
    """A comet-zoo concept card, not the generic card huggingface_hub writes beside the weights."""
    if not path.is_file():
        return False
    try:
        head = read_bytes(path, MAX_CARD_BYTES, inside=path.parent).decode("utf-8", "replace").split("\n---", 1)[0]
    except OSError as exc:
        raise CometError(f"cannot read {path}: {exc.strerror or exc}") from None
    return "\nconcepts:" in head


def _recipe(source: dict):
    """The training recipe the card names (bundled name or file), or None."""
    if not source.get("recipe"):
        return None
    from .train.recipe import Recipe, resolve_recipe

    return Recipe.load(resolve_recipe(str(source["recipe"])))


FP16_VARIANT = "model.fp16.safetensors"


def _write_fp16(src: Path, dest: Path) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(str(src))
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    save_file(half, str(dest), metadata={"format": "pt"})


def _figures(source: dict, out: Path) -> list[tuple[str, str]]:
    """Copy the card source's figures ({title, path} PNGs) into out/figures/."""
    figures = source.get("figures") or []
    if not isinstance(figures, list) or not all(isinstance(f, dict) and {"title", "path"} <= set(f) for f in figures):
        raise CometError("card source: figures must be a list of {title, path}")
    placed = []
    for i, fig in enumerate(figures):
        src = Path(fig["path"])
        if src.suffix.lower() != ".png" or not src.is_file():
            raise CometError(f"card figure {src}: not a PNG file")
        (out / "figures").mkdir(exist_ok=True)
        rel = f"figures/{i}-{src.name}"
        shutil.copyfile(src, out / rel)
        placed.append((str(fig["title"]), rel))
    return placed


def recipe_test_split(recipe, size: int, n: int):
    """The first n test scenes (Scenes: images, masks where the data set has them) of a
    recipe's data set at `size` px: the scenes a pushed card's exemplars are (the first
    scenes are the same for any n)."""
    from .data import load_dataset

    options = {"size": size, **recipe.train.dataset_options}
    from .data import build_dataset, reads_from_disk

    collection = build_dataset(recipe.train.dataset, **options)
    if reads_from_disk(collection):   # your own images: a test split holds what it holds
        n = min(n, collection.count("test"))
    return load_dataset(recipe.train.dataset, "test", n, recipe.train.seed, **options)


def recipe_test_scenes(recipe, size: int, n: int):
    """The images of `recipe_test_split`, [n, 3, S, S]."""
    import torch

    return torch.from_numpy(recipe_test_split(recipe, size, n).images)


def auto_exemplars(model, scenes, readout) -> list[int]:
    """For each component, the exemplar scene in which it best covers one object (its
    highest IoU with a ground-truth object under `readout`): the scene whose latent shows
    that concept most plainly. [K] indices; 0 for a global component (no positional
    embedding: it has no object to cover). `scenes` has masks; images [N, 3, S, S]."""
    import numpy as np
    import torch

    from .eval.metrics import object_ious
    from .eval.segment import gradient_maps, labels_from_maps

    x = torch.from_numpy(scenes.images)
    with torch.no_grad():
        recon = model.reconstruct(x, generator=torch.Generator().manual_seed(0))   # [N, 3, S, S]
    labels = labels_from_maps(gradient_maps(model, x, recon), readout)               # [N, S, S]
    k = model.config.num_components
    # A read-out with no threshold gives the floor to components too: IoU within the objects.
    ious = object_ious(scenes.masks, labels.numpy(), k, objects_only=readout.threshold is None)  # [N, K]
    return [int(np.argmax(ious[:, j])) if model.config.pos_embed[j] else 0 for j in range(k)]


def save_exemplar(image, path: Path) -> Path:
    """One scene [3, S, S] as a PNG at its own size (no border)."""
    from .data.images import grid, save_png

    return save_png(grid(image[None], nrow=1, pad=0), path)


def _resolve_auto(model, concepts: list, recipe, size: int, count: int, eval_report: dict | None) -> list:
    """The card's concepts with each `exemplar: auto` replaced by `auto_exemplars`' pick,
    under the eval report's read-out (else CLEAN, `comet eval`'s default)."""
    from .eval.segment import CLEAN, Readout

    scenes = recipe_test_split(recipe, size, count) if recipe is not None else None
    if scenes is None or scenes.masks is None:
        raise CometError("exemplar: auto needs the recipe's data set with object masks, to see which scene "
                         "each component covers best")
    recorded = ((eval_report or {}).get("segmentation") or {}).get("readout")
    readout = CLEAN if recorded is None else Readout.from_dict(recorded, "the eval report's segmentation read-out")
    picks = auto_exemplars(model, scenes, readout)
    return [{**c, "exemplar": picks[i]} if isinstance(c, dict) and c.get("exemplar") == "auto" and i < len(picks) else c
            for i, c in enumerate(concepts)]


def build(model_dir: Path, name: str, version: str, out: Path,
          card_source: str | Path | None = None, fp16: bool = False, eval_report: dict | None = None) -> Path:
    """`eval_report` (a `comet eval --json` report of this model) adds its metrics to the card."""
    import torch

    from .core.model import COMET
    from .data.images import grid, load_image, save_png
    from .hub.latents import write_exemplar_latents

    check_name(name)
    check_version(version)
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise CometError(f"{model_dir} is not a folder")
    COMET.load(model_dir)  # refuses missing config, pickle-only folders and mismatched weights
    source = _source_for(model_dir, name, card_source)
    recipe = _recipe(source)
    out.mkdir(parents=True, exist_ok=False)
    (out / "exemplars").mkdir()
    shutil.copyfile(model_dir / "model.safetensors", out / "model.safetensors")   # what was evaluated
    if fp16:
        _write_fp16(model_dir / "model.safetensors", out / FP16_VARIANT)
    shutil.copyfile(model_dir / "config.json", out / "config.json")
    if recipe is not None:  # the recipe ships with the weights: data set, options, training settings
        (out / RECIPE).write_text(json.dumps(recipe.to_dict(), indent=2) + "\n", encoding="utf-8")
    model = COMET.load(out)  # the metrics describe the weights as published
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    size = config["image_size"]

    count = int(source.get("exemplars", 6))
    if not 1 <= count <= 16:
        raise CometError(f"exemplars must be 1..16, got {count}")
    dataset = source.get("dataset")
    data_source = None
    if recipe is not None:
        dataset = dataset or recipe.train.dataset
        from .data.provenance import describe as describe_data

        # your own images: the card names them (Hub id, or a local folder's file count and hash)
        data_source = describe_data(recipe.train.dataset, recipe.train.dataset_options, size)
        test = recipe_test_scenes(recipe, size, max(count, METRIC_SCENES))   # [N, 3, S, S]
    else:
        found = sorted((model_dir / "exemplars").glob("*.png"))[:count] if (model_dir / "exemplars").is_dir() else []
        if not found:
            raise CometError("no exemplars: give a card source naming a recipe (its data set renders them), "
                             f"or put PNG test images in {model_dir / 'exemplars'}")
        test = torch.cat([load_image(p, size) for p in found])
    if any(isinstance(c, dict) and c.get("exemplar") == "auto" for c in source.get("concepts") or []):
        source = {**source, "concepts": _resolve_auto(model, source["concepts"], recipe, size, count, eval_report)}
    exemplars = []
    for i, image in enumerate(test[:count]):
        rel = f"exemplars/{i}.png"
        save_exemplar(image, out / rel)
        exemplars.append(rel)
    # Compose's latents of the exemplars, inferred (and refined) once here, from the PNGs
    # exactly as compose reads them: composing from a card exemplar then infers nothing.
    write_exemplar_latents(model, out, {rel: load_image(out / rel, size) for rel in exemplars})

    shown = min(count, 8)
    if eval_report is not None:     # the report's metrics are the card's: only the figure's scenes are needed
        test = test[:shown]
    with torch.no_grad():
        recon = model.reconstruct(test, generator=torch.Generator().manual_seed(0))   # [N, 3, S, S]
    metrics = {"mse": torch.mean((recon - test) ** 2).item(),
               "mse_mean_image_baseline": torch.mean((test.mean(0, keepdim=True) - test) ** 2).item()}
    save_png(grid(torch.cat([test[:shown], recon[:shown]]), nrow=shown, scale=max(1, 96 // size)),
             out / "reconstructions.png")

    training = {}
    if recipe is not None:
        import dataclasses

        training = {"recipe": str(source["recipe"]), "train": dataclasses.asdict(recipe.train)}
    facts = [("parameters", f"{model.num_parameters():,}"),
             ("weights sha256", f"`{manifest.sha256_file(out / 'model.safetensors')}`"),
             ("weights dtype", "float32" + (f"; float16 variant `{FP16_VARIANT}`" if fp16 else ""))]
    # One value per metric on a card: with an eval report, its numbers (more scenes) are the card's.
    card = render(name=name, version=version, source=source, config=config, training=training,
                  exemplars=exemplars, metrics={} if eval_report is not None else metrics, dataset=dataset,
                  reconstructions="reconstructions.png",
                  figures=_figures(source, out), facts=facts, data_source=data_source)
    (out / "README.md").write_text(str(card), encoding="utf-8")
    if eval_report is not None:
        from .eval.evaluate import flat_metrics
        from .hub.cards import write_metrics

        try:
            d = eval_report["dataset"]
            flat = flat_metrics(eval_report)
        except (KeyError, TypeError) as exc:
            raise CometError(f"the eval report is not a `comet eval --json` report (missing {exc})") from None
        write_metrics(out, flat, dataset=d["name"], split=d.get("split", "test"), n=d.get("n"), data_source=data_source,
                      note="Measured on the float32 weights (model.safetensors)." if fp16 else "",
                      readout=(eval_report.get("segmentation") or {}).get("readout"))
    for path in out.rglob("*"):  # atomic writes create 0600 files; an artifact is meant to be shared
        path.chmod(0o755 if path.is_dir() else 0o644)
    manifest.write(out)
    return out


def push(directory: str | Path, name: str, version: str, hub: str | None = None,
         card_source: str | Path | None = None, fp16: bool = False, eval_report: dict | None = None) -> str:
    """Build an artifact from a model folder (and a card source) and publish it; returns where."""
    check_name(name)
    check_version(version)
    target = push_hub(hub)
    if version in target.versions(name):
        raise CometError(f"{name}@{version} already exists in {target.url}; versions are immutable, push a new version")
    # Built under COMET_HOME, not /tmp: a push killed mid-way leaves a folder that the next
    # push removes once it is an hour old (a push still running is younger).
    work = home() / "push-tmp"
    try:
        work.mkdir(parents=True, exist_ok=True)
        for stale in work.glob("comet-push-*"):
            if time.time() - stale.stat().st_mtime > 3600:
                shutil.rmtree(stale, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix="comet-push-", dir=work) as tmp:
            artifact = build(Path(directory), name, version, Path(tmp) / "artifact", card_source=card_source,
                             fp16=fp16, eval_report=eval_report)
            return target.publish(artifact, name, version)
    except OSError as exc:   # a read-only or full COMET_HOME: the temporary folder is gone already
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        raise CometRuntimeError(f"cannot build {name}@{version}: {exc.strerror or exc}{where}") from None
