"""Recombination scored against ground truth: compose swapped components, render the truth.

For pairs of test scenes (A, B) of a data set that renders scene descriptions:

    lighting   the light of B into A: A's object components + B's global component
               (the first component without positional embedding, e.g. light0 of
               clevr-lighting); truth = render({**A, "light": B["light"]}). As a
               control, B's component k swapped in instead, for every other k: the
               best of these is `best_other_component`
    object     an object of A into B: all of B's components + the object component
               of A whose gradient segment overlaps that object most; truth = B with
               the object's description appended (one that does not collide with B's)
    components for models of global components only (e.g. falcor): A with B's
               component k, scored against A re-rendered with B's light and with
               B's camera; the PSNR gain over A's reconstruction says what k controls

Both are composed by the Composer (comet_zoo.composer) from the models' latents and
scored by PSNR / SSIM against the rendered truth. Beside each score, what not
recombining would give (the model's reconstruction of the unchanged scene, and the
unchanged input): a swap has worked only by its margin over these.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import registry
from ..architectures import kind_of
from ..composer import Composer, Term
from ..errors import CometError
from .metrics import psnr, ssim

GAP = 0.1   # least free space between the inserted object's footprint and B's objects
SCENE_GROUPS = ("light", "camera")   # description parts a global component may control


def score(images, truth) -> dict:
    """PSNR (dB; identical images → inf) and SSIM of images against truth, both [N, 3, H, W]."""
    return {"psnr": psnr(images, truth), "ssim": ssim(images, truth)}


def dataset_for(name: str, size: int, options: dict | None = None):
    """The data-set object (not its scenes): it can describe and render edited scenes."""
    factory = registry.load("datasets", name)
    try:
        return factory(**{"size": size, **(options or {})})
    except TypeError as exc:
        raise CometError(f"dataset {name}: bad options {options}: {exc}") from None


def global_component(model) -> int | None:
    """The lighting / global component: the first one without positional embedding,
    in a model that also has object components (else there is no lighting to swap)."""
    pos = list(model.config.pos_embed)
    if all(pos) or not any(pos):
        return None
    return pos.index(False)


def swaps_for(model, dataset) -> list[str]:
    """Which swaps this model and data set support."""
    if kind_of(model) != "comet" or not (hasattr(dataset, "describe") and hasattr(dataset, "render")):
        return []
    swaps = []
    if global_component(model) is not None and any(f.startswith("light") for f in getattr(dataset, "factor_names", [])):
        swaps.append("lighting")
    probe = dataset.render(dataset.describe("test", 1, 0))
    if probe.masks is not None and any(not o.get("backdrop") for o in probe.descriptions[0].get("objects", [])):
        swaps.append("object")
    if not any(model.config.pos_embed) and model.config.num_components > 1 \
            and all(g in probe.descriptions[0] for g in SCENE_GROUPS):
        swaps.append("components")
    return swaps


def unsupported_reason(model, dataset: str, options: dict | None = None) -> str | None:
    """None when recombination can be scored, else why not (one line)."""
    if kind_of(model) != "comet":
        return f"only COMET models compose components; this is a {kind_of(model)} model"
    ds = dataset_for(dataset, model.config.image_size, options)
    if not (hasattr(ds, "describe") and hasattr(ds, "render")):
        return f"dataset {dataset} cannot render edited scene descriptions (no describe/render)"
    if not swaps_for(model, ds):
        return (f"dataset {dataset} has neither lighting factors (with a model that has a global component) "
                "nor object masks to swap")
    return None


def _compose(model, terms: list[tuple[int, torch.Tensor]], seed: int) -> torch.Tensor:
    """One image [1, 3, S, S] from (component, latent [D]) terms of one model."""
    device = next(model.parameters()).device
    composer = Composer({"m": model}, [Term("m", k, z) for k, z in terms], device=device)
    return composer.sample(1, steps=composer.steps, seed=seed).cpu()  # N, as trained: a whole scene


def _swap_in(model, z_a: torch.Tensor, z_b: torch.Tensor, k: int, seed: int) -> np.ndarray:
    """Each scene A of the pairs with B's component k in place of its own: [P, 3, S, S].
    z_a, z_b: [P, K, D] latents of the A and B scenes."""
    others = [j for j in range(model.config.num_components) if j != k]
    return torch.cat([_compose(model, [(k, zb[k])] + [(j, za[j]) for j in others], seed + i)
                      for i, (za, zb) in enumerate(zip(z_a, z_b))]).numpy()


def _footprint(obj: dict) -> float:
    return math.hypot(obj["extent"][0], obj["extent"][1])


def _fits(obj: dict, scene: dict) -> bool:
    x, y = obj["position"][:2]
    return all(math.hypot(x - o["position"][0], y - o["position"][1]) >= _footprint(obj) + _footprint(o) + GAP
               for o in scene.get("objects", []) if not o.get("backdrop"))


def recombination_scores(model, dataset: str, *, pairs: int = 16, seed: int = 0, options: dict | None = None) -> dict:
    """Scores of every supported swap over `pairs` scene pairs of the test split."""
    if pairs < 1:
        raise CometError(f"recombination needs at least 1 pair, got {pairs}")
    reason = unsupported_reason(model, dataset, options)
    if reason:
        raise CometError(f"recombination: {reason}")
    model.eval()
    device = next(model.parameters()).device
    ds = dataset_for(dataset, model.config.image_size, options)
    swaps = swaps_for(model, ds)
    desc = ds.describe("test", 2 * pairs, seed)
    scenes = ds.render(desc)
    images = torch.from_numpy(scenes.images)                                   # [2P, 3, S, S]
    with torch.no_grad():
        z = model.infer(images.to(device))                                      # [2P, K, D]
    recon = model.generate(z, generator=torch.Generator(device=device).manual_seed(seed)).detach().cpu()
    a, b = slice(0, None, 2), slice(1, None, 2)                                 # pair i = scenes 2i, 2i+1
    k_all = range(model.config.num_components)
    g = global_component(model)                                                  # None without one
    out: dict = {"pairs": pairs}

    if "lighting" in swaps:
        truth = ds.render([{**da, "light": db["light"]} for da, db in zip(desc[a], desc[b])]).images
        composed = _swap_in(model, z[a], z[b], g, seed)
        # Control: B's component k instead of light0, for each other k. If light0 carries
        # the lighting, its swap lands nearer the truth than any of these.
        controls = {k: score(_swap_in(model, z[a], z[b], k, seed), truth) for k in k_all if k != g}
        best = max(controls, key=lambda k: controls[k]["psnr"]) if controls else None
        out["lighting"] = {"composed": score(composed, truth),
                           "reconstruction_a": score(recon[a].numpy(), truth),
                           "input_a": score(scenes.images[a], truth), "n": len(truth),
                           **({"best_other_component": {**controls[best], "component": best}} if controls else {})}

    if "object" in swaps:
        from .segment import gradient_segmentation

        seg = gradient_segmentation(model, images[a].to(device), recon[a].to(device)).cpu().numpy()  # [P, H, W]
        masks = scenes.masks[a]                                                 # [P, H, W]
        # A's component for an object is one of the object components: a global one
        # (e.g. light0) covers every pixel and would add a second light.
        candidates = [k for k in k_all if k != g]
        truths, composed, kept = [], [], []
        for i, (da, db) in enumerate(zip(desc[a], desc[b])):
            # A's objects that fit into B, largest visible first
            area = [(int((masks[i] == j + 1).sum()), j) for j, o in enumerate(da["objects"])
                    if not o.get("backdrop") and _fits(o, db)]
            area = [t for t in area if t[0] > 0]
            if not area:
                continue
            j = max(area)[1]
            obj = masks[i] == j + 1
            iou = [(seg[i][obj] == k).sum() / ((seg[i] == k) | obj).sum() for k in candidates]
            kj = candidates[int(np.argmax(iou))]
            truths.append({**db, "objects": db["objects"] + [da["objects"][j]]})
            composed.append(_compose(model, [(k, z[b][i, k]) for k in k_all] + [(kj, z[a][i, kj])], seed + i))
            kept.append(i)
        if kept:
            truth = ds.render(truths).images
            out["object"] = {"composed": score(torch.cat(composed).numpy(), truth),
                             "reconstruction_b": score(recon[b][kept].numpy(), truth),
                             "input_b": score(scenes.images[b][kept], truth), "n": len(kept)}
    if "components" in swaps:
        out["components"] = _component_effects(model, ds, desc, z, recon, a, b, seed)
    return out


def _component_effects(model, ds, desc, z, recon, a, b, seed: int) -> dict:
    """What each global component controls, by intervention: A with B's component k,
    scored against A re-rendered with B's light, and with B's camera. The gain over
    A's reconstruction (dB) says which part of the scene the component moved."""
    truths = {g: ds.render([{**da, g: db[g]} for da, db in zip(desc[a], desc[b])]).images for g in SCENE_GROUPS}
    base = {g: psnr(recon[a].numpy(), t) for g, t in truths.items()}
    gains = {}
    for k in range(model.config.num_components):
        swapped = _swap_in(model, z[a], z[b], k, seed)
        gains[k] = {g: psnr(swapped, t) - base[g] for g, t in truths.items()}
    return {"groups": list(SCENE_GROUPS), "psnr_gain_db": {str(k): v for k, v in gains.items()},
            "n": len(desc[a])}
