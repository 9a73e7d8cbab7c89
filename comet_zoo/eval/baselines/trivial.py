"""Trivial segmenters, reported beside every segmentation score.

fg-ARI ignores ground-truth background, so on sparse scenes (a few small
objects) a segmenter that knows nothing about objects still scores well: cutting
the image into K vertical stripes gives fg-ARI ≈ 0.45 on CLEVR-like renders,
because each small object mostly falls inside one stripe. A model's score means
something only by its margin over these. A grid of near-square cells does better
still where objects are compact and spread out (tetrominoes: 2×2 cells 0.62, stripes
0.40): a model whose components take fixed regions of the image scores about that.

    stripes(images, k)              [N, H, W]: pixel column → one of k equal-width stripes
    grid(images, k)                 [N, H, W]: pixel → one of r × (k // r) cells, r = ⌊√k⌋
    kmeans_colour(images, k, seed)  [N, H, W]: per image, k-means on the RGB of its pixels
    baseline_scores(images, masks, k)  all three, scored: the rows to print under a model's row
"""

from __future__ import annotations

import numpy as np

from ...errors import CometError
from ..metrics import segmentation_scores


def _images(images) -> np.ndarray:
    if hasattr(images, "detach"):                       # a torch tensor
        images = images.detach().cpu().numpy()
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4:
        raise CometError(f"baseline segmentation: images must be [N, C, H, W]; got {images.shape}")
    return images


def _check_k(k: int) -> None:
    if k < 1:
        raise CometError(f"baseline segmentation: k must be >= 1, got {k}")


def stripes(images, k: int) -> np.ndarray:
    """k vertical stripes of (near) equal width: int64 masks [N, H, W], labels 0..k−1."""
    _check_k(k)
    n, _, h, w = _images(images).shape
    column = np.arange(w) * k // w                      # stripe of each column [W]
    return np.broadcast_to(column, (n, h, w)).astype(np.int64)


def grid(images, k: int) -> np.ndarray:
    """The image cut into rows × cols near-square cells, rows = ⌊√k⌋, cols = k // rows (at
    most k cells: 2 × 2 for k 4 and 5, 2 × 3 for k 7): int64 masks [N, H, W], labels row-major."""
    _check_k(k)
    n, _, h, w = _images(images).shape
    rows = int(np.sqrt(k))
    cols = k // rows
    cell = (np.arange(h) * rows // h)[:, None] * cols + (np.arange(w) * cols // w)[None, :]   # [H, W]
    return np.broadcast_to(cell, (n, h, w)).astype(np.int64)


def kmeans_colour(images, k: int, seed: int = 0, iters: int = 25) -> np.ndarray:
    """Per image, k-means (k-means++ start, Lloyd steps) on pixel colours: int64 [N, H, W].

    Colour alone, no position: it separates objects from the background and from
    each other only where their colours differ.
    """
    _check_k(k)
    x = _images(images)
    n, c, h, w = x.shape
    pixels = x.reshape(n, c, h * w).transpose(0, 2, 1)  # [N, P, C]
    rng = np.random.default_rng(seed)
    centres = np.empty((n, k, c))
    for i in range(n):                                  # k-means++: spread the starting centres
        first = rng.integers(h * w)
        centres[i, 0] = pixels[i, first]
        d2 = ((pixels[i] - centres[i, 0]) ** 2).sum(1)  # [P] squared distance to the nearest centre
        for j in range(1, k):
            total = d2.sum()
            pick = rng.choice(h * w, p=d2 / total) if total > 0 else rng.integers(h * w)
            centres[i, j] = pixels[i, pick]
            d2 = np.minimum(d2, ((pixels[i] - centres[i, j]) ** 2).sum(1))
    for _ in range(iters):                              # Lloyd steps, all images at once
        dist = ((pixels[:, :, None, :] - centres[:, None, :, :]) ** 2).sum(-1)  # [N, P, k]
        labels = dist.argmin(-1)                        # [N, P]
        onehot = np.eye(k)[labels]                      # [N, P, k]
        counts = onehot.sum(1)                          # [N, k]
        sums = np.einsum("npk,npc->nkc", onehot, pixels)
        # An empty cluster keeps its centre rather than dividing by zero.
        centres = np.where(counts[..., None] > 0, sums / np.maximum(counts, 1)[..., None], centres)
    dist = ((pixels[:, :, None, :] - centres[:, None, :, :]) ** 2).sum(-1)
    return dist.argmin(-1).reshape(n, h, w).astype(np.int64)


# The trivial segmentation baselines, one row each wherever scores are shown:
# (report key, label in tables, suffix of its metrics on a card, e.g. fg_ari_kmeans).
BASELINE_ROWS = (("stripes", "stripes baseline", "_stripes"),
                 ("grid", "grid baseline", "_grid"),
                 ("kmeans_colour", "k-means colour baseline", "_kmeans"))


def baseline_scores(images, masks, k: int, seed: int = 0) -> dict:
    """{"stripes": scores, "grid": scores, "kmeans_colour": scores} with the same K as the
    model, scores as in metrics.segmentation_scores (fg_ari, ari, msc, wsc)."""
    return {
        "stripes": segmentation_scores(masks, stripes(images, k)),
        "grid": segmentation_scores(masks, grid(images, k)),
        "kmeans_colour": segmentation_scores(masks, kmeans_colour(images, k, seed)),
    }
