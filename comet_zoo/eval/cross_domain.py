"""Recombination across domains, scored against rendered truth (the paper's §5.3).

A model trained on a mixture (comet_zoo.data.mixture) of two rendered domains, e.g.
clevr and clevr-toy: for pairs (A from the first source, B from the second),

    composed   all of B's components + the component of A whose gradient segment
               overlaps A's largest visible object most, on one canvas
    truth      B's scene description with that object appended, rendered by B's
               renderer (a clevr cube in a toy scene: the renderer draws any shape)
    controls   not swapping: B's reconstruction, and B's input, against the same truth

The swap binds when `composed` lands nearer the truth than both controls (PSNR / SSIM).
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import CometError
from .recombination import _compose, _fits, dataset_for, global_component, score


def cross_domain_scores(model, options: dict, *, pairs: int = 16, seed: int = 0, source: int = 0,
                        target: int = 1) -> dict:
    """An object of source `source`'s scenes placed into target `target`'s scenes; see the module docstring."""
    from .segment import gradient_segmentation

    mixture = dataset_for("mixture", model.config.image_size, options)
    n_sources = len(getattr(mixture, "datasets", []))
    if not (0 <= source < n_sources and 0 <= target < n_sources and source != target):
        raise CometError(f"cross-domain recombination needs two sources of a mixture; it has {n_sources}")
    src, dst = mixture.datasets[source], mixture.datasets[target]
    if not all(hasattr(d, "describe") and hasattr(d, "render") for d in (src, dst)):
        raise CometError("cross-domain recombination needs sources that render scene descriptions")
    model.eval()
    device = next(model.parameters()).device
    desc_a = src.describe("test", pairs, seed)
    desc_b = dst.describe("test", pairs, seed + 1)
    scenes_a, scenes_b = src.render(desc_a), dst.render(desc_b)
    if scenes_a.masks is None:
        raise CometError(f"cross-domain recombination needs object masks of {mixture.labels[source]}")
    x_a, x_b = torch.from_numpy(scenes_a.images), torch.from_numpy(scenes_b.images)  # [P, 3, S, S] each
    generator = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        z_a, z_b = model.infer(x_a.to(device)), model.infer(x_b.to(device))         # [P, K, D] each
    recon_a = model.generate(z_a, generator=generator).detach()
    recon_b = model.generate(z_b, generator=generator).detach().cpu()
    seg = gradient_segmentation(model, x_a.to(device), recon_a).cpu().numpy()         # [P, H, W]
    k_all = range(model.config.num_components)
    g = global_component(model)
    candidates = [k for k in k_all if k != g]
    truths, composed, kept = [], [], []
    for i, (da, db) in enumerate(zip(desc_a, desc_b)):
        area = [(int((scenes_a.masks[i] == j + 1).sum()), j) for j, o in enumerate(da["objects"])
                if not o.get("backdrop") and _fits(o, db)]
        area = [t for t in area if t[0] > 0]
        if not area:
            continue
        j = max(area)[1]
        obj = scenes_a.masks[i] == j + 1
        iou = [(seg[i][obj] == k).sum() / ((seg[i] == k) | obj).sum() for k in candidates]
        kj = candidates[int(np.argmax(iou))]
        truths.append({**db, "objects": db["objects"] + [da["objects"][j]]})
        composed.append(_compose(model, [(k, z_b[i, k]) for k in k_all] + [(kj, z_a[i, kj])], seed + i))
        kept.append(i)
    if not kept:
        raise CometError("cross-domain recombination: no object of the first source fits into the second's scenes")
    truth = dst.render(truths).images                                                # [P', 3, S, S]
    return {"from": mixture.labels[source], "into": mixture.labels[target],
            "composed": score(torch.cat(composed).numpy(), truth),
            "reconstruction_b": score(recon_b[kept].numpy(), truth),
            "input_b": score(scenes_b.images[kept], truth), "n": len(kept)}
