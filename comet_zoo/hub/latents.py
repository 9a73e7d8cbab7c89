"""Latents without inference: the ones an artifact stores for its card's exemplars, and a
cache in COMET_HOME for images the user supplies.

    latents_for(model, image, snapshot=, exemplar=)   → z [K, D] for one image [1, 3, S, S]

Inferring a latent runs the encoder, then `refine_steps` Adam steps through all N descent
steps (core/refine.py): about a second per 32-px image on a CPU. The answer depends only
on the weights, the image and the refinement settings, so it is computed once:

- at publish, for each card exemplar, into the artifact's `latents.safetensors` (listed in
  SHA256SUMS like every file; `write_exemplar_latents`, called by publish). Its metadata records the settings
  that made them and the sha256 of the weights and of each exemplar PNG; a stored latent
  is used only when all of them match the model and file at hand.
- for any other image, in COMET_HOME/latents/, keyed by the sha256 of the weights (as
  loaded), of the image tensor (as the encoder sees it) and of the settings. Entries are
  written atomically (a temporary file, then a rename), so concurrent processes never read
  half a file; the folder is kept under COMET_LATENT_CACHE_MB (default 64) by evicting the
  least recently used entries. A damaged or vanished entry is a miss, never an error.

Older artifacts without `latents.safetensors` still work: their exemplars are inferred
once per machine and then come from the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from .._io import atomic_path

LATENTS_FILE = "latents.safetensors"
FORMAT = "comet-latents/1"
CACHE_MB_ENV = "COMET_LATENT_CACHE_MB"
DEFAULT_CACHE_MB = 64


def settings(model) -> dict[str, str]:
    """What, beside the weights and the image, decides an inferred latent."""
    c = model.config
    return {"refine_steps": str(c.refine_steps), "refine_lr": repr(float(c.refine_lr)), "refine_seed": "0",
            "image_size": str(c.image_size)}


def weights_sha256(model) -> str:
    """sha256 of the weights as loaded (names, shapes, dtypes, bytes), memoised on the model."""
    found = getattr(model, "_comet_weights_sha256", None)
    if found is None:
        digest = hashlib.sha256()
        for name, tensor in sorted(model.state_dict().items()):
            t = tensor.detach().to("cpu").contiguous()
            digest.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
            digest.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes())
        found = digest.hexdigest()
        model._comet_weights_sha256 = found
    return found


def infer(model, image: torch.Tensor) -> torch.Tensor:
    """The latent compose uses for `image` [1, 3, S, S]: model.infer, on the model's device → [K, D] (CPU)."""
    device = next(model.parameters()).device
    with torch.no_grad():
        z = model.infer(image.to(device))[0]                                         # [K, D]
    return z.detach().float().cpu()


# -- stored in the artifact ---------------------------------------------------------
def write_exemplar_latents(model, folder: Path, images: dict[str, torch.Tensor]) -> Path:
    """Infer each exemplar of an artifact folder exactly as compose would, from `images`
    {path relative to the folder: its PNG as compose loads it, [1, 3, S, S]}, and store the
    latents, with what made them, in LATENTS_FILE."""
    from safetensors.torch import save_file

    from .manifest import sha256_file

    tensors, meta = {}, {"format": FORMAT, **settings(model), "weights_sha256": weights_sha256(model)}
    for rel, image in images.items():
        tensors[rel] = infer(model, image).contiguous()                              # [K, D]
        meta[f"sha256:{rel}"] = sha256_file(folder / rel)
    target = folder / LATENTS_FILE
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return target


def stored_latent(model, snapshot: Path, exemplar: str) -> torch.Tensor | None:
    """The artifact's stored latent of `exemplar` (a path relative to the snapshot), or None
    when the artifact has none or it was made for other weights, settings or image."""
    from safetensors import SafetensorError, safe_open

    from .manifest import sha256_file

    path = Path(snapshot) / LATENTS_FILE
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if exemplar not in f.keys():
                return None
            z = f.get_tensor(exemplar)
    except (OSError, SafetensorError, ValueError):
        return None
    expected = {"format": FORMAT, **settings(model), "weights_sha256": weights_sha256(model)}
    if any(meta.get(k) != v for k, v in expected.items()):
        return None
    image = Path(snapshot) / exemplar
    if not image.is_file() or meta.get(f"sha256:{exemplar}") != sha256_file(image):
        return None
    k, d = model.config.num_components, model.config.latent_dim
    if tuple(z.shape) != (k, d) or not torch.isfinite(z).all():
        return None
    return z.float()


# -- the cache for other images -------------------------------------------------------
def cache_dir() -> Path:
    from . import home

    return home() / "latents"


def cache_limit_bytes() -> int:
    try:
        mb = float(os.environ.get(CACHE_MB_ENV, DEFAULT_CACHE_MB))
    except ValueError:
        mb = DEFAULT_CACHE_MB
    return int(max(0.0, mb) * 1024 * 1024)


def cache_key(model, image: torch.Tensor) -> str:
    digest = hashlib.sha256()
    digest.update(weights_sha256(model).encode())
    digest.update(json.dumps(settings(model), sort_keys=True).encode())
    x = image.detach().float().cpu().contiguous()
    digest.update(f"{tuple(x.shape)};".encode())
    digest.update(x.numpy().tobytes())
    return digest.hexdigest()


def _cached(path: Path, model) -> torch.Tensor | None:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        z = load_file(str(path))["z"]
        os.utime(path)                       # recently used: evicted last
    except FileNotFoundError:
        return None
    except (OSError, SafetensorError, KeyError, ValueError):
        path.unlink(missing_ok=True)         # damaged: computed again
        return None
    if tuple(z.shape) != (model.config.num_components, model.config.latent_dim) or not torch.isfinite(z).all():
        path.unlink(missing_ok=True)
        return None
    return z


def _evict(folder: Path, limit: int) -> None:
    """Delete the least recently used entries until the folder fits `limit` bytes."""
    entries = []
    for p in folder.glob("*.safetensors"):
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        entries.append((st.st_mtime, st.st_size, p))
    total = sum(size for _, size, _ in entries)
    for _, size, p in sorted(entries):
        if total <= limit:
            break
        p.unlink(missing_ok=True)
        total -= size


def cached_or_inferred(model, image: torch.Tensor) -> torch.Tensor:
    """z [K, D] of a user's image [1, 3, S, S]: from the cache, else inferred and cached.
    A cache that cannot be written (read-only COMET_HOME, full disk) only costs the inference."""
    from safetensors.torch import save_file

    from ..errors import CometError

    limit = cache_limit_bytes()
    folder = cache_dir()
    path = folder / f"{cache_key(model, image)}.safetensors"
    if limit and path.is_file():
        z = _cached(path, model)
        if z is not None:
            return z
    z = infer(model, image)
    if limit:
        try:
            with atomic_path(path) as tmp:
                save_file({"z": z.contiguous()}, str(tmp))
            _evict(folder, limit)
        except (CometError, OSError):
            pass
    return z


def latents_for(model, image: torch.Tensor, snapshot: Path | None = None, exemplar: str | None = None) -> torch.Tensor:
    """z [K, D] for `image` [1, 3, S, S]: the artifact's stored latent when `exemplar` names
    one of its card's exemplars, else the cache's, else inferred (and cached)."""
    if snapshot is not None and exemplar is not None:
        z = stored_latent(model, snapshot, exemplar)
        if z is not None:
            return z
    return cached_or_inferred(model, image)
