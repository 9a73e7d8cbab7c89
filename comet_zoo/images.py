"""Image files: load a PNG/JPEG as a [1, 3, H, W] tensor, save a grid of images as a PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ._io import atomic_path
from .errors import CometError


def load_image(path: str | Path, size: int | None = None) -> torch.Tensor:
    """Read an image file → float32 [1, 3, size, size] in [0, 1] (antialiased resize)."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if size is not None and im.size != (size, size):
                im = im.resize((size, size), Image.Resampling.LANCZOS)
            arr = np.asarray(im, dtype=np.float32) / 255.0   # [H, W, 3]
    except FileNotFoundError:
        raise CometError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise CometError(f"cannot read image {path}: {exc}") from None
    return torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous()


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[N, 3, H, W] in [0, 1] → uint8 [N, H, W, 3]."""
    x = images.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def grid(images: torch.Tensor, nrow: int, pad: int = 2, scale: int = 1) -> Image.Image:
    """Tile [N, 3, H, W] images row by row, `nrow` per row, on a white background."""
    arr = to_uint8(images)
    n, h, w, _ = arr.shape
    rows = -(-n // nrow)
    canvas = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, 3), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, nrow)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = arr[i]
    im = Image.fromarray(canvas)
    return im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST) if scale > 1 else im


def save_png(image: Image.Image, path: str | Path) -> Path:
    """Write a PNG atomically; the file is complete or absent."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise CometError(f"output must be a .png file, got {path.name}")
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
    return path
