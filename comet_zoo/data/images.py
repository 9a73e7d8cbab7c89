"""Image files: load a PNG/JPEG as a [1, 3, H, W] tensor, save a grid of images as a PNG."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .._io import MAX_IMAGE_BYTES, atomic_path, open_regular
from ..errors import CometError, CometRuntimeError


def load_image(path: str | Path, size: int | None = None) -> torch.Tensor:
    """Read an image file → float32 [1, 3, size, size] in [0, 1] (antialiased resize).
    Only a regular file of at most MAX_IMAGE_BYTES is opened (never a FIFO or a device)."""
    if not isinstance(path, (str, os.PathLike)):
        raise CometError(f"an image is a file path, got {path!r:.60}")
    path = Path(path)
    try:
        with warnings.catch_warnings():
            # PIL only warns between MAX_IMAGE_PIXELS and twice that: refuse those too
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _read(path, size)
    except FileNotFoundError:
        raise CometError(f"image not found: {path}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise CometError(f"{path}: refused, too many pixels ({exc})") from None
    except UnidentifiedImageError:
        raise CometRuntimeError(f"cannot read image {path}: not a picture in a format PIL reads (PNG, JPEG, …)") from None
    except OSError as exc:
        raise CometRuntimeError(f"cannot read image {path}: {exc}") from None


def _read(path: Path, size: int | None) -> torch.Tensor:
    with open_regular(path, MAX_IMAGE_BYTES) as f, Image.open(f) as im:
        im = im.convert("RGB")
        if size is not None and im.size != (size, size):
            im = im.resize((size, size), Image.Resampling.LANCZOS)
        arr = np.asarray(im, dtype=np.float32) / 255.0   # [H, W, 3]
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


def labelled_grid(rows: list[list[tuple[str, torch.Tensor]]], scale: int = 2, pad: int = 4) -> Image.Image:
    """Rows of (label, image [3, H, W]) cells; each label is written above its cell."""
    from PIL import ImageDraw

    cells = [cell for row in rows for cell in row]
    if not cells:
        raise CometError("nothing to draw")
    h, w = cells[0][1].shape[-2] * scale, cells[0][1].shape[-1] * scale
    label_h = 12
    ncols = max(len(row) for row in rows)
    canvas = Image.new("RGB", (ncols * (w + pad) + pad, len(rows) * (h + label_h + pad) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    for r, row in enumerate(rows):
        for c, (label, image) in enumerate(row):
            x0, y0 = pad + c * (w + pad), pad + r * (h + label_h + pad)
            tile = Image.fromarray(to_uint8(image[None])[0]).resize((w, h), Image.Resampling.NEAREST)
            canvas.paste(tile, (x0, y0 + label_h))
            draw.text((x0, y0), label[: max(4, w // 6)], fill=(0, 0, 0))
    return canvas


def save_gif(frames: list[torch.Tensor], path: str | Path, scale: int = 2, ms_per_frame: int = 120) -> Path:
    """Frames [B, 3, H, W] (first image of each) → an animated GIF, written atomically."""
    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise CometError(f"trajectory output must be a .gif file, got {path.name}")
    images = []
    for frame in frames:
        im = Image.fromarray(to_uint8(frame[:1])[0])
        images.append(im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST))
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=ms_per_frame, loop=0)
    return path
