"""`comet eval` as a library: one model, one data-set split, every metric the data allows.

    report = evaluate(model, "clevr", split="test", n=1000)

renders the split at the model's image size, reconstructs it and scores
    reconstruction     MSE, PSNR, SSIM                               (always)
    segmentation       fg-ARI, ARI, covering (unweighted msc, weighted wsc) of the
                       model beside the stripes and k-means colour baselines with
                       the same K                                    (masks; a model that segments)
    disentanglement    BetaVAE, MIG, MCC, DCI on all components' latents flattened
                       and reduced by PCA to the number of factors, beside the same
                       model at random initialisation and a random projection of
                       the pixels                                    (factors)
    recombination      composed vs rendered truth (comet_zoo.eval.recombination)
                                                                     (COMET; a scene data set)
COMET's segmentation is read out of its gradient maps by `readout` (default CLEAN:
smoothed maps, weak-gradient pixels to background); the paper's plain argmax is
scored beside it (`segmentation.argmax`).
`metrics=None` runs every group the data and model allow; naming a group the
data cannot support raises a one-line CometError saying what is missing.

Image size: the data set is asked to render at the model's size. A data set
that renders another size (e.g. an explicit `size` option) is refused unless
`resize=True`, which resizes images (bilinear, antialiased) and masks (nearest).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..architectures import kind_of
from ..data import Scenes, load_dataset
from ..errors import CometError
from . import metrics as M
from .baselines.trivial import BASELINE_ROWS, baseline_scores
from .segment import ARGMAX, CLEAN, Readout, gradient_maps, labels_from_maps, segment

GROUPS = ("reconstruction", "segmentation", "disentanglement", "recombination")


def parse_groups(text: str | None) -> list[str] | None:
    """'segmentation,reconstruction' → list; None / 'auto' → None (every applicable group)."""
    if text is None or text.strip() in ("", "auto"):
        return None
    groups = [g.strip() for g in text.split(",") if g.strip()]
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise CometError(f"unknown metric group {unknown[0]!r}; known: {', '.join(GROUPS)}")
    return groups


def _resize_scenes(scenes: Scenes, size: int) -> Scenes:
    x = torch.from_numpy(scenes.images)
    images = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                           antialias=size < x.shape[-1]).clamp(0, 1).numpy()
    masks = None
    if scenes.masks is not None:   # nearest keeps labels labels
        m = torch.from_numpy(scenes.masks)[:, None].float()
        masks = F.interpolate(m, size=(size, size), mode="nearest")[:, 0].long().numpy()
    return Scenes(images, masks, scenes.factors, scenes.factor_names, scenes.descriptions)


def render_split(dataset: str, size: int, *, split: str = "test", n: int = 1000, seed: int = 0,
                 options: dict | None = None, resize: bool = False) -> Scenes:
    """The split rendered at `size` (the model's), or a clear error on a size mismatch."""
    options = {"size": size, **(options or {})}
    scenes = load_dataset(dataset, split, n, seed, **options)
    got = scenes.images.shape[-1]
    if got != size or scenes.images.shape[-2] != size:
        if not resize:
            raise CometError(f"the model takes {size}×{size} images but dataset {dataset} rendered "
                             f"{scenes.images.shape[-2]}×{got}; render at {size} or pass --resize")
        scenes = _resize_scenes(scenes, size)
    return scenes


def _infer(model, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Latents [b, K, D]: COMET infers deterministically; a baseline draws its noise from `generator`."""
    return model.infer(x) if kind_of(model) == "comet" else model.infer(x, generator)


def _batches(model, images: np.ndarray, batch_size: int, seed: int):
    """Yield (x, recon, latents) per batch; one generator makes x_0 (and slot noise) reproducible."""
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    for i in range(0, len(images), batch_size):
        x = torch.from_numpy(images[i:i + batch_size]).to(device)               # [b, 3, S, S]
        with torch.no_grad():
            z = _infer(model, x, generator)                                      # [b, K, D]
            recon = model.generate(z, generator=generator) if kind_of(model) == "comet" else model.generate(z)
        yield x, recon.detach().clamp(0, 1), z


def evaluate(model, dataset: str, *, split: str = "test", n: int = 1000, seed: int = 0,
             options: dict | None = None, metrics: list[str] | None = None, resize: bool = False,
             batch_size: int = 32, pairs: int = 16, readout: Readout = CLEAN,
             on_stage: Callable[[str], None] | None = None,
             on_progress: Callable[[int, int], None] | None = None) -> dict:
    """Score `model` on n scenes of a split; returns the report dict (JSON-ready).
    `on_stage(text)` names each stage; `on_progress(done, total)` counts the scenes
    reconstructed (and segmented), batch by batch: the long stage."""
    if n < 2:
        raise CometError(f"evaluation needs at least 2 scenes, got {n}")
    if not (1 <= batch_size <= 1024 and 1 <= pairs <= 1000):
        raise CometError(f"batch size must be in 1..1024 and pairs in 1..1000, got {batch_size} and {pairs}")
    stage = on_stage or (lambda _: None)
    started = time.perf_counter()
    model.eval()
    size, k = model.config.image_size, model.config.num_components
    stage(f"rendering {n} {split} scenes of {dataset}")
    scenes = render_split(dataset, size, split=split, n=n, seed=seed, options=options, resize=resize)
    wanted = set(GROUPS if metrics is None else metrics)
    explicit = metrics is not None
    does_segment = kind_of(model) == "comet" or hasattr(model, "segment")
    # What the data and the model allow; asking for more is a one-line error.
    if "segmentation" in wanted and (scenes.masks is None or not does_segment):
        if explicit:
            why = (f"ground-truth masks; dataset {dataset} has none" if scenes.masks is None
                   else f"a model that segments; {kind_of(model)} does not")
            raise CometError(f"segmentation (ARI, covering) needs {why}")
        wanted.discard("segmentation")
    if "disentanglement" in wanted and scenes.factors is None:
        if explicit:
            raise CometError(f"disentanglement (BetaVAE, MIG, MCC, DCI) needs ground-truth factors; dataset {dataset} has none")
        wanted.discard("disentanglement")
    if "recombination" in wanted:
        from .recombination import unsupported_reason

        reason = unsupported_reason(model, dataset, options)
        if reason:
            if explicit:
                raise CometError(f"recombination: {reason}")
            wanted.discard("recombination")

    stage("reconstructing")
    comet = kind_of(model) == "comet"
    images, recons, latents, predicted, argmax = [], [], [], [], []
    for x, recon, z in _batches(model, scenes.images, batch_size, seed):
        images.append(x.cpu())
        recons.append(recon.cpu())
        latents.append(z.cpu())
        if "segmentation" in wanted and comet:
            maps = gradient_maps(model, x, recon, z)                             # [b, K, H, W], once
            predicted.append(labels_from_maps(maps, readout).cpu())             # [b, H, W]
            argmax.append(labels_from_maps(maps, ARGMAX).cpu())                  # the paper's, for comparison
        elif "segmentation" in wanted:
            predicted.append(segment(model, x, recon, z).cpu())
        if on_progress:
            on_progress(sum(len(i) for i in images), len(scenes.images))
    x, recon = torch.cat(images).numpy(), torch.cat(recons).numpy()           # [N, 3, S, S]
    report: dict = {
        "model": {"kind": kind_of(model), "parameters": int(model.num_parameters()), "image_size": size,
                  "num_components": k, "refine_steps": model.config.refine_steps if comet else 0},
        "dataset": {"name": dataset, "split": split, "n": len(x), "seed": seed, "options": dict(options or {})},
        "reconstruction": {"mse": M.mse(recon, x), "psnr": M.psnr(recon, x), "ssim": M.ssim(recon, x),
                           # the mean test image: what a model that ignores its input scores
                           "mse_mean_image": M.mse(np.broadcast_to(x.mean(0), x.shape), x)},
    }
    if "segmentation" in wanted:
        stage("scoring segmentation and baselines")
        pred = torch.cat(predicted).numpy()
        report["segmentation"] = {"k": k, "readout": readout.to_dict() if comet else None,
                                  "model": M.segmentation_scores(scenes.masks, pred)}
        if comet and readout != ARGMAX:
            report["segmentation"]["argmax"] = M.segmentation_scores(scenes.masks, torch.cat(argmax).numpy())
        # What each component wins: its objects under the read-out (weak floor pixels belong to
        # none), its share of the floor under the paper's argmax (every pixel to some
        # component). Which are objects, which the background: how a card names them. A read-out
        # without a threshold gives the floor to components too: their IoU is then taken within
        # the objects' pixels, or a component that is exactly one piece plus floor never binds.
        within = "objects" if comet and readout.threshold is None else "image"
        roles = M.component_roles(scenes.masks, pred, k, objects_only=within == "objects")
        if comet and readout != ARGMAX:   # under the argmax read-out, pred is the argmax already
            floor = M.component_roles(scenes.masks, torch.cat(argmax).numpy(), k)
            roles.update(background=floor["background"], area=floor["area"])
        report["segmentation"]["components"] = {**roles, "names": M.component_names(roles), "iou_within": within}
        report["segmentation"].update(baseline_scores(x, scenes.masks, k, seed))
    if "disentanglement" in wanted:
        stage("scoring disentanglement")
        z_all = torch.cat(latents).numpy()                                       # [N, K, D]
        report["disentanglement"] = disentanglement(z_all, scenes.factors, seed)
        # What no learning scores: the same architecture at random initialisation, and a
        # random linear projection of the pixels to as many numbers as the model's latents.
        stage("scoring the disentanglement baselines")
        untrained = _latents(_random_init(model, seed), scenes.images, batch_size, seed)
        rng = np.random.default_rng(seed)
        projection = rng.standard_normal((x[0].size, z_all[0].size)).astype(np.float32)    # [3HW, K*D]
        projected = x.reshape(len(x), -1) @ projection                                          # [N, K*D]
        report["disentanglement"]["baselines"] = {
            "random_init": _metrics_only(disentanglement(untrained, scenes.factors, seed)),
            "random_projection": _metrics_only(disentanglement(projected[:, None], scenes.factors, seed))}
        if z_all.ndim == 3 and z_all.shape[1] > 1:
            # which factor each component carries: how global components get their names
            report["disentanglement"]["component_r2"] = {
                "factors": list(scenes.factor_names or [f"f{i}" for i in range(scenes.factors.shape[1])]),
                "r2": M.component_factor_r2(z_all, scenes.factors, seed=seed).round(4).tolist()}
    if "recombination" in wanted:
        stage("scoring recombination against rendered truth")
        from .recombination import recombination_scores

        report["recombination"] = recombination_scores(model, dataset, pairs=pairs, seed=seed, options=options)
        if dataset == "mixture" and len((options or {}).get("sources") or []) >= 2 \
                and "object" in report["recombination"]:
            # one model, two domains: an object of the first source's scenes placed into the second's
            from .cross_domain import cross_domain_scores

            report["recombination"]["cross_domain"] = cross_domain_scores(model, options, pairs=pairs, seed=seed)
    report["seconds"] = time.perf_counter() - started
    return report


def _random_init(model, seed: int):
    """A fresh model of the same kind and config, at the random initialisation seed gives."""
    from ..architectures import build_model

    torch.manual_seed(seed)
    return build_model(model.config).to(next(model.parameters()).device).eval()


def _latents(model, images: np.ndarray, batch_size: int, seed: int) -> np.ndarray:
    """Latents [N, K, D] of images, batch by batch, without reconstructing."""
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            x = torch.from_numpy(images[i:i + batch_size]).to(device)
            out.append(_infer(model, x, generator).cpu())
    return torch.cat(out).numpy()


def _metrics_only(scores: dict) -> dict:
    return {k: v for k, v in scores.items() if k != "pca_dim"}


def disentanglement(latents: np.ndarray, factors: np.ndarray, seed: int = 0) -> dict:
    """The paper's protocol: latents [N, K, D] flattened, PCA to the number of varying
    factors, then BetaVAE score, MIG, MCC and DCI against the factors [N, F]."""
    varying = factors[:, factors.std(0) > 0]                                   # [N, F']
    if varying.shape[1] < 2:
        raise CometError("disentanglement needs at least 2 factors that vary over the evaluated scenes")
    flat = latents.reshape(len(latents), -1)                                    # [N, K*D]
    dim = min(varying.shape[1], flat.shape[1], len(flat))
    z = M.pca_reduce(flat, dim)                                                 # [N, dim]
    d = M.dci(z, varying, seed=seed)
    # BetaVAE pairs points that share a factor value: continuous factors need bins
    # coarse enough that values repeat (20 bins from 400 scenes up, as metrics uses).
    bins = max(2, min(20, len(z) // 20))
    return {"pca_dim": dim, "betavae": M.betavae_score(z, varying, bins=bins, seed=seed), "mig": M.mig(z, varying),
            "mcc": M.mcc(z, varying), "dci_disentanglement": d["disentanglement"],
            "dci_completeness": d["completeness"], "dci_informativeness": d["informativeness"]}


def flat_metrics(report: dict) -> dict[str, float]:
    """The report as one flat name → value dict (for concept cards): baselines suffixed."""
    out = {f"{k}": v for k, v in report["reconstruction"].items()}
    seg = report.get("segmentation")
    if seg:
        for row, suffix in (("model", ""), ("argmax", "_argmax"), *((key, sfx) for key, _, sfx in BASELINE_ROWS)):
            out.update({f"{key}{suffix}": v for key, v in seg.get(row, {}).items()})
    dis = report.get("disentanglement") or {}
    out.update({k: v for k, v in dis.items() if k not in ("pca_dim", "component_r2", "baselines")})
    for name, scores in (dis.get("baselines") or {}).items():
        out.update({f"{k}_{name}": v for k, v in scores.items()})
    for swap, rows in (report.get("recombination") or {}).items():
        if swap == "components":
            out.update({f"recombination_component{k}_{g}_gain_db": v
                        for k, gains in rows["psnr_gain_db"].items() for g, v in gains.items()})
        elif isinstance(rows, dict):
            for row, scores in rows.items():
                if isinstance(scores, dict):
                    out.update({f"recombination_{swap}_{row}_{m}": v for m, v in scores.items()})
    return {k: float(v) for k, v in out.items()}


def default_scene_count(dataset: str, size: int, split: str, options: dict | None = None, most: int = 1000) -> int:
    """How many scenes `comet eval` scores unless told: `most`, or all of a collection's split
    when it holds fewer (a collection on disk holds what it holds; a renderer draws any number)."""
    from ..data import build_dataset, reads_from_disk

    data = build_dataset(dataset, **{"size": size, **(options or {})})
    return min(most, data.count(split)) if reads_from_disk(data) else most


def _trained_train_section(folder) -> dict:
    """The `train` section of the recipe a model folder was trained with (recipe.json, else its card)."""
    import json
    from pathlib import Path

    from ..train.recipe import RECIPE

    recipe, card = Path(folder) / RECIPE, Path(folder) / "README.md"
    train: dict = {}
    if recipe.is_file():
        try:
            train = json.loads(recipe.read_text(encoding="utf-8")).get("train") or {}
        except (ValueError, AttributeError, OSError):
            train = {}
    elif card.is_file():
        try:
            from huggingface_hub import ModelCard

            data = ModelCard.load(card, ignore_metadata_errors=True).data.to_dict()
            train = (data.get("training") or {}).get("train") or {}
        except Exception:   # a card we cannot read just gives no defaults
            return {}
    return train if isinstance(train, dict) else {}


def trained_dataset(folder) -> str | None:
    """The data set a model folder was trained on, or None when it records none."""
    name = _trained_train_section(folder).get("dataset")
    return name if isinstance(name, str) and name else None


def training_options(folder, dataset: str) -> dict:
    """Dataset options the model was trained with, when it was trained on `dataset`
    (e.g. 2–3 objects, a finite set's split): evaluation then renders the same
    distribution. Read from the recipe.json that `comet train` exports beside the
    weights, else from the card. The size is left out (evaluation renders at the
    model's size)."""
    train = _trained_train_section(folder)
    options = train.get("dataset_options") if train.get("dataset") == dataset else None
    return {k: v for k, v in options.items() if k != "size"} if isinstance(options, dict) else {}
