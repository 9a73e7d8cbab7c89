"""From any image file to the square RGB array a model trains on.

    prep = Preprocess(size=64, crop="center", background=(1.0, 1.0, 1.0))
    array = prep.image(pil_image, rng)          # uint8 [3, 64, 64]
    labels = prep.mask(pil_mask, box)           # int64 [64, 64], the same crop, nearest

In order: EXIF orientation applied; 16-bit and float modes scaled to 8 bits (their
full range, not clipped); palette and grayscale to RGB; alpha composited over
`background`; the shorter side resized to `size` (antialiased), then a centre or
random square crop of `size` (`crop: "none"` resizes the whole image to a square,
squashing it). Masks follow the image's orientation and crop, resized nearest so that
labels stay labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from ..errors import CometError

CROPS = ("center", "random", "none")


@dataclass(frozen=True)
class Preprocess:
    size: int = 64
    crop: str = "center"                              # center | random | none (squash)
    background: tuple = (1.0, 1.0, 1.0)               # RGB in [0, 1] under transparent pixels
    upscale: bool = False                             # images smaller than size: enlarge (else refused)

    def __post_init__(self):
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 8 <= self.size <= 1024:
            raise CometError(f"image size must be an integer in 8..1024, got {self.size!r}")
        if self.crop not in CROPS:
            raise CometError(f"crop must be one of {', '.join(CROPS)}, got {self.crop!r}")
        bg = self.background
        if not (isinstance(bg, (list, tuple)) and len(bg) == 3
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1 for v in bg)):
            raise CometError(f"background must be three numbers in [0, 1] (RGB), got {bg!r}")
        object.__setattr__(self, "background", tuple(float(v) for v in bg))

    # ---- images -------------------------------------------------------------------------
    def too_small(self, width: int, height: int) -> bool:
        return not self.upscale and min(width, height) < self.size

    def box(self, width: int, height: int, rng: np.random.Generator | None) -> tuple[int, int, int, int]:
        """The square (left, top, right, bottom) of the oriented image that is kept."""
        if self.crop == "none":
            return 0, 0, width, height
        side = min(width, height)
        if self.crop == "random" and rng is not None:
            left, top = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
        else:
            left, top = (width - side) // 2, (height - side) // 2
        return left, top, left + side, top + side

    def image(self, im: Image.Image, rng: np.random.Generator | None = None) -> tuple[np.ndarray, tuple]:
        """An opened image → (uint8 [3, S, S], the crop box in oriented pixels)."""
        im = ImageOps.exif_transpose(im)
        rgb = to_rgb(im, self.background)
        box = self.box(*rgb.size, rng)
        out = rgb.resize((self.size, self.size), Image.Resampling.BICUBIC, box=box, reducing_gap=3.0)
        return np.asarray(out, np.uint8).transpose(2, 0, 1).copy(), box          # [3, S, S]

    def mask(self, im: Image.Image, box: tuple, oriented_like: Image.Image | None = None) -> np.ndarray:
        """An integer mask image → int64 [S, S] labels over the same crop (nearest)."""
        if oriented_like is not None and oriented_like.getexif().get(0x0112):
            im = ImageOps.exif_transpose(im)
        if im.mode in ("P", "L", "I", "I;16", "I;16B", "I;16L", "1"):
            labels = np.asarray(im.convert("I") if im.mode == "1" else im).astype(np.int64)
        elif im.mode in ("RGB", "RGBA"):   # a colour-coded mask: each distinct colour one label, black 0
            rgb = np.asarray(im.convert("RGB")).astype(np.int64)
            code = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
            _, labels = np.unique(code, return_inverse=True)
            labels = labels.reshape(code.shape) + (0 if (code == 0).any() else 1)
        else:
            raise CometError(f"masks must be integer PNGs (mode L, P or I), got mode {im.mode}")
        lab = Image.fromarray(labels.astype(np.int32), mode="I")
        lab = lab.resize((self.size, self.size), Image.Resampling.NEAREST, box=box)
        return np.asarray(lab, np.int64)                                              # [S, S]


def to_rgb(im: Image.Image, background: tuple = (1.0, 1.0, 1.0)) -> Image.Image:
    """Any PIL mode → 8-bit RGB: 16-bit / 32-bit / float scaled from their range, alpha over background."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, np.float64)
        top = 65535.0 if mode.startswith("I;16") or (mode == "I" and arr.max(initial=0) > 255) else \
            (1.0 if mode == "F" and arr.max(initial=0) <= 1.0 else 255.0)
        im = Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L")
        mode = "L"
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("LA", "La", "PA", "RGBa"):
        im = im.convert("RGBA")
    elif mode in ("1", "L", "CMYK", "YCbCr", "LAB", "HSV"):
        im = im.convert("RGB")
    if im.mode == "RGBA":
        canvas = Image.new("RGB", im.size, tuple(int(round(v * 255)) for v in background))
        canvas.paste(im, mask=im.getchannel("A"))
        return canvas
    return im if im.mode == "RGB" else im.convert("RGB")
