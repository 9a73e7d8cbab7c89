"""Metrics against hand-computed cases and scikit-learn / SciPy; segmentation from a
tiny COMET; trivial baselines on a synthetic sparse scene."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from comet_zoo.eval import metrics as M
from comet_zoo.eval._fit import SoftmaxClassifier, lasso, max_assignment
from comet_zoo.eval.baselines.trivial import baseline_scores, grid, kmeans_colour, stripes
from comet_zoo.core.config import CometConfig
from comet_zoo.errors import CometError
from comet_zoo.core.model import COMET
from comet_zoo.eval.segment import (
    CLEAN,
    SMOOTH,
    Readout,
    _batched_vjp_gradients,
    gradient_maps,
    gradient_segmentation,
    labels_from_maps,
)

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def sparse_scenes(n: int = 24, size: int = 32, objects: int = 3, seed: int = 0):
    """CLEVR-like sparse scenes: a few small discs (radius 2–4 px) on a grey background.
    → images float32 [N, 3, S, S], masks int64 [N, S, S] (0 = background)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[:size, :size]
    masks = np.zeros((n, size, size), dtype=np.int64)
    for i in range(n):
        for j in range(1, objects + 1):
            r = rng.integers(2, 5)
            cy, cx = rng.integers(r, size - r, 2)
            masks[i][(ys - cy) ** 2 + (xs - cx) ** 2 <= r * r] = j
    palette = np.array([[0.5, 0.5, 0.5], [0.8, 0.2, 0.2], [0.2, 0.3, 0.9], [0.2, 0.7, 0.2]], dtype=np.float32)
    images = palette[masks].transpose(0, 3, 1, 2).copy()  # [N, 3, S, S]
    return images, masks


# -- ARI ---------------------------------------------------------------------------
def test_ari_hand_computed():
    # contingency: true 0 → {pred 0: 2}; true 1 → {pred 1: 1, pred 2: 1}
    # index = C(2,2) = 1; rows a = 1 + 1 = 2; cols b = 1; pairs = C(4,2) = 6
    # expected = 2·1/6 = 1/3; max = 3/2 → ARI = (1 − 1/3) / (3/2 − 1/3) = 4/7
    assert M.adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)
    assert M.adjusted_rand_index([0, 0, 1, 1], [5, 5, 3, 3]) == 1.0     # label names do not matter
    assert M.adjusted_rand_index([0, 0, 0], [1, 1, 1]) == 1.0           # both one cluster
    assert M.adjusted_rand_index([0, 1, 0, 1], [0, 0, 1, 1]) == pytest.approx(-0.5)


def test_ari_matches_sklearn():
    rng = np.random.default_rng(0)
    true = rng.integers(0, 4, (6, 12, 12))
    pred = np.where(rng.random((6, 12, 12)) < 0.7, true, rng.integers(-1, 5, (6, 12, 12)))
    expected = [sklearn_metrics.adjusted_rand_score(t.ravel(), p.ravel()) for t, p in zip(true, pred)]
    np.testing.assert_allclose(M.ari_scores(true, pred), expected, atol=1e-12)
    assert M.ari(true, pred) == pytest.approx(np.mean(expected))
    fg = [sklearn_metrics.adjusted_rand_score(t[t > 0], p[t > 0]) for t, p in zip(true, pred)]
    assert M.fg_ari(true, pred) == pytest.approx(np.mean(fg))
    assert M.ari(torch.from_numpy(true), torch.from_numpy(pred)) == pytest.approx(np.mean(expected))


def test_fg_ari_ignores_background_and_empty_images():
    true = np.array([[[0, 0, 1, 1], [0, 0, 2, 2]], [[0, 0, 0, 0], [0, 0, 0, 0]]])  # image 2 has no foreground
    pred = np.array([[[7, 3, 1, 1], [9, 9, 2, 2]], [[0, 0, 0, 0], [0, 0, 0, 0]]])
    assert M.fg_ari(true, pred) == 1.0                  # only background pixels disagree
    assert M.ari_scores(true, pred)[0] < 1.0
    assert math.isnan(M.ari_scores(true, pred, foreground=True)[1])
    with pytest.raises(CometError, match="foreground"):
        M.fg_ari(true[1:], pred[1:])


# -- segmentation covering --------------------------------------------------------------
def test_segmentation_covering_hand_computed():
    true = np.array([[1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 2, 2], [0, 0, 0, 0]])  # |R1| = 6, |R2| = 2
    pred = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]])  # |P0| = 4, |P1| = 12
    # R1: IoU with P0 = 4/6, with P1 = 2/16 → 2/3.   R2: with P0 = 0, with P1 = 2/12 → 1/6.
    assert M.segmentation_covering(true, pred) == pytest.approx((2 / 3 + 1 / 6) / 2)          # 5/12
    assert M.segmentation_covering(true, pred, weighted=True) == pytest.approx((6 * 2 / 3 + 2 / 6) / 8)  # 13/24
    # With the background as a segment too: R0 (8 px) with P1: I = 8, U = 12 → 2/3.
    assert M.segmentation_covering(true, pred, ignore_background=False) == pytest.approx((2 / 3 + 2 / 3 + 1 / 6) / 3)
    assert M.segmentation_covering(true, true + 10) == 1.0
    assert M.segmentation_covering(true, true, weighted=True) == 1.0


# -- reconstruction -----------------------------------------------------------------------
def test_mse_psnr_known_values():
    rng = np.random.default_rng(0)
    a = rng.random((2, 3, 8, 8)) * 0.8
    assert M.mse(a, a) == 0.0
    assert M.psnr(a, a) == math.inf
    assert M.mse(a, a + 0.1) == pytest.approx(0.01)
    assert M.psnr(a, a + 0.1) == pytest.approx(20.0)     # 10 log10(1 / 0.01)
    assert M.psnr(a, a + 0.01) == pytest.approx(40.0)


def test_ssim_identity_constant_and_reference():
    rng = np.random.default_rng(1)
    a = rng.random((2, 3, 20, 24))
    assert M.ssim(a, a) == pytest.approx(1.0)
    # Constant images: σ = 0, so SSIM = (2 μa μb + C1) / (μa² + μb² + C1) exactly.
    c1 = 0.01 ** 2
    assert M.ssim(np.full((1, 3, 16, 16), 0.3), np.full((1, 3, 16, 16), 0.6)) == pytest.approx(
        (2 * 0.3 * 0.6 + c1) / (0.3 ** 2 + 0.6 ** 2 + c1))
    # Independent reference: a full 2-D Gaussian kernel through torch's conv2d.
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1)
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5 ** 2))
    kernel = torch.tensor(np.outer(g, g) / np.outer(g, g).sum())[None, None].repeat(3, 1, 1, 1)

    def blur(x):
        return torch.nn.functional.conv2d(torch.tensor(x), kernel, groups=3).numpy()

    ma, mb = blur(a), blur(b)
    va, vb, cov = blur(a * a) - ma ** 2, blur(b * b) - mb ** 2, blur(a * b) - ma * mb
    c2 = 0.03 ** 2
    ref = ((2 * ma * mb + c1) * (2 * cov + c2) / ((ma ** 2 + mb ** 2 + c1) * (va + vb + c2))).mean()
    assert M.ssim(a, b) == pytest.approx(ref, rel=1e-9)
    assert M.ssim(a, np.clip(a + 0.3 * rng.standard_normal(a.shape), 0, 1)) < M.ssim(a, b) < 1


# -- solvers behind the disentanglement metrics ---------------------------------------------
def test_max_assignment_matches_scipy():
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(0)
    for trial in range(60):
        n, m = rng.integers(1, 8, 2)
        score = rng.random((n, m))
        if trial % 3 == 0:
            score = np.round(score, 1)                   # ties
        rows, cols = max_assignment(score)
        r2, c2 = linear_sum_assignment(score, maximize=True)
        assert len(rows) == min(n, m) == len(set(rows)) == len(set(cols))
        assert score[rows, cols].sum() == pytest.approx(score[r2, c2].sum())


def test_lasso_matches_sklearn_and_classifier_learns():
    from sklearn.linear_model import Lasso

    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 6))
    y = x @ rng.standard_normal((6, 2)) + rng.standard_normal((200, 2))
    x, y = x - x.mean(0), y - y.mean(0)
    ref = Lasso(alpha=0.1, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(x, y).coef_.T
    np.testing.assert_allclose(lasso(x, y, 0.1), ref, atol=1e-6)
    labels = rng.integers(0, 3, 300)
    feats = np.eye(3)[labels] * 2 + 0.3 * rng.standard_normal((300, 3))
    clf = SoftmaxClassifier().fit(feats[:200], labels[:200])
    assert np.mean(clf.predict(feats[200:]) == labels[200:]) > 0.95


def test_mutual_information_matches_sklearn():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 500)
    b = (a + rng.integers(0, 3, 500)) % 5
    assert M.mutual_information(a, b) == pytest.approx(sklearn_metrics.mutual_info_score(a, b))


# -- disentanglement ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def representations():
    """Factors [N, 4] (10 values each) and three codes [N, 4]: disentangled (each latent one
    factor, permuted, rescaled, slightly noisy), entangled (a rotation mixing all factors) and random."""
    rng = np.random.default_rng(0)
    v = rng.integers(0, 10, (1500, 4)).astype(np.float64)
    good = v[:, [2, 0, 3, 1]] * np.array([1.0, -2.0, 0.5, 3.0]) + 0.05 * rng.standard_normal(v.shape)
    hadamard = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2
    mixed = (v - v.mean(0)) @ hadamard                      # a rotation: every latent sees every factor equally
    random = rng.standard_normal(v.shape)
    return v, good, mixed, random


def test_mig_hand_computed():
    v = np.array([0, 1] * 50, dtype=float)
    # z0 = v carries H(v) = log 2; z1 constant carries nothing → gap = H / H = 1
    assert M.mig(np.stack([v, np.zeros_like(v)], 1), v) == pytest.approx(1.0)
    # two copies of v: the top two latents tie → gap 0
    assert M.mig(np.stack([v, v], 1), v) == pytest.approx(0.0)


def test_mig_sanity(representations):
    v, good, mixed, random = representations
    assert M.mig(good, v) > 0.9
    assert M.mig(mixed, v) < 0.4
    assert M.mig(random, v) < 0.05


def test_mcc_hand_computed_and_sanity(representations):
    v, good, mixed, random = representations
    # A permutation with sign flips is perfectly matched: |corr| = 1 on every pair.
    assert M.mcc(np.stack([v[:, 1], -v[:, 0]], 1), v[:, :2]) == pytest.approx(1.0)
    assert M.mcc(good, v) > 0.99
    assert M.mcc(mixed, v) < 0.6
    assert M.mcc(random, v) < 0.15
    assert M.mcc(good, v, method="spearman") > 0.99


def test_betavae_sanity(representations):
    v, good, mixed, random = representations
    assert M.betavae_score(good, v) > 0.95
    assert M.betavae_score(mixed, v) < 0.5                # equal mixing: no latent singles a factor out
    assert M.betavae_score(random, v) < 0.45              # chance is 1/4


def test_dci_sanity(representations):
    v, good, mixed, random = representations
    scores = M.dci(good, v)
    assert scores["disentanglement"] > 0.95 and scores["completeness"] > 0.95
    assert scores["informativeness"] > 0.95
    mixed_scores = M.dci(mixed, v)
    assert mixed_scores["disentanglement"] < 0.5 and mixed_scores["completeness"] < 0.5
    assert mixed_scores["informativeness"] > 0.9          # mixed, but all information is there
    assert M.dci(random, v)["informativeness"] < 0.05


def test_pca_reduce():
    rng = np.random.default_rng(0)
    factors = rng.standard_normal((300, 3))
    latents = (factors @ rng.standard_normal((3, 4 * 5))).reshape(300, 4, 5)  # [N, K, D], rank 3
    reduced = M.pca_reduce(latents, 3)
    assert reduced.shape == (300, 3)
    var = reduced.var(0)
    assert np.all(np.diff(var) <= 0)                       # ordered by explained variance
    flat = latents.reshape(300, -1)
    assert var.sum() == pytest.approx(flat.var(0).sum())   # rank 3: three components keep it all
    np.testing.assert_allclose(np.corrcoef(reduced.T), np.eye(3), atol=1e-8)
    np.testing.assert_array_equal(M.pca_reduce(latents, 3), reduced)
    with pytest.raises(CometError, match="dimension"):
        M.pca_reduce(latents, 21)


# -- bad input ---------------------------------------------------------------------------
def test_missing_or_mismatched_inputs_raise_one_line_errors():
    masks = np.zeros((2, 4, 4), dtype=np.int64)
    cases = [
        (lambda: M.ari(None, masks), "masks"),
        (lambda: M.segmentation_covering(None, masks), "masks"),
        (lambda: M.mig(np.zeros((5, 2)), None), "factors"),
        (lambda: M.dci(np.zeros((5, 2)), None), "factors"),
        (lambda: M.ari(masks, masks[:, :3]), "masks must both be"),
        (lambda: M.ssim(np.zeros((1, 3, 8, 8)), np.zeros((1, 3, 8, 9))), "images must both be"),
        (lambda: M.mcc(np.zeros((5, 2)), np.zeros((4, 2))), "same number of rows"),
        (lambda: M.mig(np.zeros((5, 2, 3)), np.zeros((5, 2))), "pca_reduce"),
    ]
    for call, needle in cases:
        with pytest.raises(CometError, match=needle) as info:
            call()
        assert "\n" not in str(info.value)


# -- segmentation from a COMET model -------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_comet():
    torch.manual_seed(0)
    config = CometConfig(image_size=16, num_components=2, latent_dim=4, width=8, encoder="conv",
                         pos_embed=[True, False], steps=3, step_size=10.0)
    return COMET(config).eval()


def test_gradient_segmentation_shape_and_cover(tiny_comet):
    x = torch.rand(3, 3, 16, 16)
    masks = gradient_segmentation(tiny_comet, x)             # reconstructs x itself
    assert masks.shape == (3, 16, 16) and masks.dtype == torch.int64
    assert masks.min() >= 0 and masks.max() < 2             # every pixel gets a component
    recon = tiny_comet.reconstruct(x)                        # sampling is random: fix one reconstruction
    masks = gradient_segmentation(tiny_comet, x, recon)
    thresholded = gradient_segmentation(tiny_comet, x, recon, threshold=0.5)
    assert (thresholded == -1).any() and ((thresholded == -1) | (thresholded == masks)).all()
    with pytest.raises(CometError, match="16"):
        gradient_segmentation(tiny_comet, torch.rand(1, 3, 8, 8))


def test_gradient_maps_equal_one_backward_per_component(tiny_comet):
    x = torch.rand(2, 3, 16, 16)
    recon = tiny_comet.reconstruct(x)
    maps = gradient_maps(tiny_comet, x, recon)              # [B, K, H, W], expanded-copy trick
    z = tiny_comet.infer(x).detach()
    xr = recon.clone().requires_grad_(True)
    energy = tiny_comet.energy(xr, z)                       # [B, K]
    for k in range(2):
        (g,) = torch.autograd.grad(energy[:, k].sum(), xr, retain_graph=True)
        torch.testing.assert_close(maps[:, k], g.abs().sum(1), rtol=1e-5, atol=1e-12)
    # the generic fallback for other energy plugins agrees too
    torch.testing.assert_close(_batched_vjp_gradients(tiny_comet, recon, z).abs().sum(2), maps,
                               rtol=1e-5, atol=1e-12)
    assert not torch.equal(maps[:, 0], maps[:, 1])          # components are told apart
    torch.testing.assert_close(gradient_maps(tiny_comet, x, recon, chunk=1), maps)  # chunking changes nothing


# -- trivial baselines ---------------------------------------------------------------------
def test_stripes_inflate_fg_ari_on_sparse_scenes():
    images, masks = sparse_scenes()
    pred = stripes(images, 4)
    assert pred.shape == masks.shape and set(np.unique(pred)) == {0, 1, 2, 3}
    np.testing.assert_array_equal(pred[0, 0], np.repeat(np.arange(4), 8))
    # Knowing nothing about objects, stripes still score well on foreground ARI
    # (each small object mostly lies in one stripe) but not on full-image ARI.
    assert M.fg_ari(masks, pred) > 0.3
    assert M.ari(masks, pred) < 0.1
    rows = baseline_scores(images, masks, 4)
    assert rows["stripes"]["fg_ari"] == pytest.approx(M.fg_ari(masks, pred))
    assert set(rows["kmeans_colour"]) == {"fg_ari", "ari", "msc", "wsc"}
    assert rows["grid"]["fg_ari"] == pytest.approx(M.fg_ari(masks, grid(images, 4)))


def test_grid_cuts_near_square_cells():
    images = np.zeros((2, 3, 6, 9))
    four = grid(images, 4)
    assert four.shape == (2, 6, 9) and four.dtype == np.int64
    np.testing.assert_array_equal(four[1, :, [0, 4, 5, 8]].T, [[0, 0, 1, 1]] * 3 + [[2, 2, 3, 3]] * 3)
    assert set(np.unique(grid(images, 7))) == set(range(6))               # 2 × 3: at most k cells
    assert set(np.unique(grid(images, 1))) == {0}
    # Compact objects, one per quadrant: the 2 × 2 grid finds them exactly, stripes do not.
    masks = np.zeros((1, 8, 8), dtype=np.int64)
    masks[0, 1:3, 1:3], masks[0, 1:3, 5:7], masks[0, 5:7, 1:3], masks[0, 5:7, 5:7] = 1, 2, 3, 4
    assert M.fg_ari(masks, grid(np.zeros((1, 3, 8, 8)), 4)) == pytest.approx(1.0)
    assert M.fg_ari(masks, stripes(np.zeros((1, 3, 8, 8)), 4)) < 0.5
    with pytest.raises(CometError, match="k must be"):
        grid(images, 0)


def test_kmeans_colour_separates_colours():
    images, masks = sparse_scenes(n=6)
    pred = kmeans_colour(images, 4, seed=0)
    assert pred.shape == masks.shape
    assert M.ari(masks, pred) > 0.9                        # distinct flat colours: near perfect
    np.testing.assert_array_equal(kmeans_colour(images, 4, seed=0), pred)


def test_component_factor_r2_finds_the_factor_each_component_carries():
    rng = np.random.default_rng(0)
    factors = rng.uniform(size=(400, 3))                                    # [N, F]
    latents = rng.normal(size=(400, 2, 5))                                  # [N, K, D]: noise...
    latents[:, 0, 2] = 3 * factors[:, 1] - 1                                # ...but component 0 carries factor 1
    latents[:, 1, 0] = 0.5 - 2 * factors[:, 2]                              # and component 1 factor 2
    r2 = M.component_factor_r2(latents, factors)
    assert r2.shape == (2, 3)
    assert r2[0, 1] > 0.99 and r2[1, 2] > 0.95                             # the carried factors
    assert abs(r2[0, 0]) < 0.1 and abs(r2[1, 1]) < 0.1                     # the ignored ones
    with pytest.raises(CometError, match="component_factor_r2"):
        M.component_factor_r2(latents[:, 0], factors)


def test_component_roles_tell_objects_from_background_and_name_them():
    true = np.zeros((2, 8, 8), dtype=np.int64)
    true[:, 1:3, 1:3] = 1                                   # object 1: 4 pixels
    true[:, 5:8, 5:8] = 2                                   # object 2: 9 pixels
    pred = np.full((2, 8, 8), 1)                            # component 1 wins the floor...
    pred[:, 1:3, 1:3] = 0                                   # ...component 0 is object 1 exactly
    pred[0, 5:8, 5:8] = 2                                   # component 2 is object 2 in image 0 only
    pred[1, 5:8, 5:8] = 3                                   # and component 3 in image 1
    pred[1, 0, 0] = -1                                      # an unassigned pixel belongs to none
    roles = M.component_roles(true, pred, 4)
    assert roles["object_iou"] == [1.0, pytest.approx(0.0), 0.5, 0.5]    # the floor component overlaps no object
    assert roles["binds"] == [1.0, 0.0, 0.5, 0.5]
    assert roles["background"][1] == pytest.approx((51 + 50) / 102, abs=1e-4)   # rounded to 4 places
    assert roles["background"][0] == 0 and roles["area"][0] == pytest.approx(4 / 64, abs=1e-4)
    assert M.component_names(roles) == ["obj0", "bg", "obj1", "obj2"]
    assert M.component_names(roles, binds=0.75) == ["obj0", "bg", "part0", "part1"]
    # the floor's largest share does not make a component the background if it binds objects
    busy = {**roles, "background": [0.6, 0.2, 0.1, 0.1]}
    assert M.component_names(busy) == ["obj0", "part0", "obj1", "obj2"]
    with pytest.raises(CometError, match="component roles"):
        M.component_roles(true, pred[:, :4], 4)


def test_component_roles_within_objects_ignore_the_floor_a_component_wins():
    # A read-out without a threshold: every pixel goes to a component, so the one that is
    # exactly object 1 also holds most of the floor.
    true = np.zeros((1, 8, 8), dtype=np.int64)
    true[0, 1:3, 1:3] = 1                                   # object 1: 4 pixels
    true[0, 5:8, 5:8] = 2                                   # object 2: 9 pixels
    pred = np.zeros((1, 8, 8), dtype=np.int64)             # component 0: object 1 and the floor (56 pixels)
    pred[0, 5:8, 5:8] = 1                                   # component 1: object 2
    pred[0, 5, 5] = 0                                       # one pixel of object 2 goes to component 0
    image = M.component_roles(true, pred, 2)
    assert image["object_iou"][0] == pytest.approx(4 / 56, abs=1e-4) and image["binds"][0] == 0.0
    within = M.component_roles(true, pred, 2, objects_only=True)
    assert within["object_iou"] == [pytest.approx(4 / 5, abs=1e-4), pytest.approx(8 / 9, abs=1e-4)]
    assert within["binds"] == [1.0, 1.0]
    assert within["background"] == image["background"] and within["area"] == image["area"]



def test_object_ious_per_image_are_what_component_roles_averages():
    true = np.zeros((2, 4, 4), dtype=np.int64)
    true[:, 0:2, 0:2] = 1                                   # object 1 in both images: 4 pixels
    pred = np.full((2, 4, 4), -1, dtype=np.int64)           # unassigned
    pred[0, 0:2, 0:2] = 0                                   # image 0: component 0 is the object exactly
    pred[1, 0:2, 0:1] = 0                                   # image 1: half of it
    pred[1, 3, :] = 1                                       # component 1: floor only
    ious = M.object_ious(true, pred, 2)
    assert ious.shape == (2, 2)
    assert ious[:, 0].tolist() == [1.0, 0.5] and ious[:, 1].tolist() == [0.0, 0.0]
    assert M.component_roles(true, pred, 2)["object_iou"] == [0.75, 0.0]


# -- reading gradient maps out into labels ----------------------------------------------
def _speckled_maps(seed=0):
    """Two components, each strong on its own half of a 16×16 image and zero on a weak
    background border; 15 % of the object pixels have their two values swapped (speckle)."""
    g = torch.Generator().manual_seed(seed)
    maps = torch.zeros(1, 2, 16, 16)
    maps[0, 0, 2:14, 2:8] = 1.0
    maps[0, 1, 2:14, 8:14] = 1.0
    maps[0, :, 2:14, 2:14] += 0.05
    maps += 0.01 * torch.rand(1, 2, 16, 16, generator=g)        # the border: weak everywhere
    speckle = (torch.rand(1, 16, 16, generator=g) < 0.15) & (maps.amax(1) > 0.5)
    maps[:, [0, 1]] = torch.where(speckle[:, None], maps[:, [1, 0]], maps)
    truth = torch.full((1, 16, 16), -1)
    truth[0, 2:14, 2:8], truth[0, 2:14, 8:14] = 0, 1
    return maps, truth, speckle


def test_smoothing_removes_speckle_and_the_threshold_finds_the_background():
    maps, truth, speckle = _speckled_maps()
    inside = truth >= 0
    argmax = labels_from_maps(maps, Readout())
    assert (argmax >= 0).all()                                           # argmax labels every pixel
    assert (argmax[speckle] != truth[speckle]).all()                     # and follows the speckle
    clean = labels_from_maps(maps, Readout(smooth=2))
    # away from the seam between the halves, the smoothed labels are the truth
    away = inside.clone()
    away[:, :, 6:10] = False
    assert (clean[away] == truth[away]).all()
    thresholded = labels_from_maps(maps, Readout(smooth=2, threshold=0.15, vote=1))
    assert (thresholded[~inside] == -1).all()                            # the weak border is background
    interior = away.clone()                                              # the vote rounds the objects' corners
    interior[:, [2, 13], :] = interior[:, :, [2, 13]] = False
    assert (thresholded[interior] == truth[interior]).all()


def test_the_threshold_uses_the_raw_strength_not_the_smoothed_one():
    maps, truth, _ = _speckled_maps()
    # Smoothing spreads object gradients a pixel or two into the border; the raw strength does not.
    wide = labels_from_maps(maps, Readout(smooth=3, threshold=0.15))
    assert (wide[truth < 0] == -1).all()


def test_smooth_keeps_the_objects_where_the_background_has_the_strongest_gradients():
    maps, truth, speckle = _speckled_maps()
    inside = truth >= 0
    # Tetrominoes-like: every component's energy reacts most to the black background.
    maps = torch.where(inside[:, None], maps, torch.full_like(maps, 20.0))
    clean = labels_from_maps(maps, CLEAN)
    assert (clean[inside] == -1).mean(dtype=torch.float32) > 0.9              # the threshold drops the objects
    smooth = labels_from_maps(maps, SMOOTH)
    away = inside.clone()                                                     # off the seam and the border
    away[:, :, 5:11] = False
    away[:, [2, 3, 12, 13], :] = away[:, :, [2, 3, 12, 13]] = False
    assert (smooth >= 0).all() and (smooth[away] == truth[away]).all()
    assert (labels_from_maps(maps, Readout())[away & speckle] != truth[away & speckle]).all()   # argmax keeps the speckle


def test_readout_checks_its_arguments():
    with pytest.raises(CometError, match="threshold"):
        Readout(threshold=1.5)
    with pytest.raises(CometError, match="radii"):
        Readout(smooth=-1)
    assert CLEAN.to_dict() == {"smooth": CLEAN.smooth, "threshold": CLEAN.threshold, "vote": CLEAN.vote}
