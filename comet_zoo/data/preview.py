"""Preview grids of a dataset: scenes, and the same scenes with their mask outlines."""

from __future__ import annotations

import numpy as np

from . import Scenes

OUTLINE = np.array([1.0, 1.0, 1.0], np.float32)   # white lines read on CLEVR grey and on black


def upscale(images: np.ndarray, masks: np.ndarray | None, scale: int):
    """Nearest-neighbour zoom: images [N, 3, H, W] → [N, 3, sH, sW], masks [N, H, W] → [N, sH, sW]."""
    images = images.repeat(scale, 2).repeat(scale, 3)
    if masks is not None:
        masks = masks.repeat(scale, 1).repeat(scale, 2)
    return images, masks


def outline(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Paint the boundaries of every object label (> 0) onto copies of the images.

    images [N, 3, H, W], masks [N, H, W] → [N, 3, H, W]. A pixel is on a boundary when
    its right or lower neighbour has another label and one of the two is an object.
    """
    edge = np.zeros(masks.shape, bool)                                        # [N, H, W]
    dx = (masks[:, :, 1:] != masks[:, :, :-1]) & ((masks[:, :, 1:] > 0) | (masks[:, :, :-1] > 0))
    dy = (masks[:, 1:] != masks[:, :-1]) & ((masks[:, 1:] > 0) | (masks[:, :-1] > 0))
    edge[:, :, :-1] |= dx
    edge[:, :-1] |= dy
    out = images.copy()
    out.transpose(0, 2, 3, 1)[edge] = OUTLINE
    return out


def preview_image(scenes: Scenes, nrow: int = 8, scale: int = 2, outlines: bool = True):
    """A PIL image: rows of `nrow` scenes, each row followed by the same scenes outlined (if masked)."""
    import torch

    from .images import grid

    images, masks = upscale(scenes.images, scenes.masks, scale)
    if not outlines or masks is None:
        return grid(torch.from_numpy(images), nrow)
    lined = outline(images, masks)
    tiles = []
    for start in range(0, len(images), nrow):
        row = slice(start, start + nrow)
        pad = nrow - len(images[row])                                         # keep pairs of rows aligned
        blank = np.ones((pad, *images.shape[1:]), np.float32)
        tiles += [images[row], blank, lined[row], blank]
    return grid(torch.from_numpy(np.concatenate(tiles)), nrow)
