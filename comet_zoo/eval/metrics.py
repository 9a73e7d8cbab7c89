"""The paper's evaluation metrics, in NumPy.

Segmentation (masks: int [N, H, W], any integer labels; ground truth 0 = background)
    ari, fg_ari, ari_scores                  adjusted Rand index, per image then averaged
    segmentation_covering, covering_scores   mean segmentation covering (weighted or not)
    segmentation_scores                      all four in one dict
    component_roles, component_names         what each component segments, and a name for it
Reconstruction (images: float [N, 3, H, W] in [0, 1])
    mse, psnr, ssim
Disentanglement (latents: float [N, d]; factors: float [N, F])
    betavae_score, mig, mcc, dci
    pca_reduce                               the paper's protocol: flatten [N, K, D], PCA to d

Every function accepts NumPy arrays or torch tensors and returns Python floats
(or a dict / array where stated). A missing input (a dataset without masks or
factors) or a shape mismatch raises CometError with a one-line message.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import CometError
from ._fit import SoftmaxClassifier, lasso, max_assignment


# -- input checks ---------------------------------------------------------------
def _array(value, what: str, metric: str, dtype=None) -> np.ndarray:
    if value is None:
        raise CometError(f"{metric} needs {what}; none were given (the dataset has no {what}?)")
    if hasattr(value, "detach"):                        # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)


def _mask_pair(true, pred, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth and predicted masks as int64 [N, H, W] (a single [H, W] is promoted)."""
    true = _array(true, "ground-truth masks", metric)
    pred = _array(pred, "predicted masks", metric)
    if true.ndim == 2:
        true = true[None]
    if pred.ndim == 2:
        pred = pred[None]
    if true.ndim != 3 or true.shape != pred.shape:
        raise CometError(f"{metric}: masks must both be [N, H, W]; got {true.shape} and {pred.shape}")
    return true.astype(np.int64), pred.astype(np.int64)


def _image_pair(a, b, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Two image batches as float64 [N, C, H, W] (a single [C, H, W] is promoted)."""
    a = _array(a, "images", metric, np.float64)
    b = _array(b, "reference images", metric, np.float64)
    if a.ndim == 3:
        a = a[None]
    if b.ndim == 3:
        b = b[None]
    if a.ndim != 4 or a.shape != b.shape:
        raise CometError(f"{metric}: images must both be [N, C, H, W]; got {a.shape} and {b.shape}")
    return a, b


def _latents_factors(latents, factors, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """latents [N, d] and factors [N, F] as float64, with matching N."""
    z = _array(latents, "latents", metric, np.float64)
    v = _array(factors, "ground-truth factors", metric, np.float64)
    if v.ndim == 1:
        v = v[:, None]
    if z.ndim != 2:
        raise CometError(f"{metric}: latents must be [N, d] (use pca_reduce for [N, K, D]); got {z.shape}")
    if v.ndim != 2 or len(z) != len(v):
        raise CometError(f"{metric}: latents {z.shape} and factors {v.shape} need the same number of rows")
    if len(z) < 2:
        raise CometError(f"{metric}: needs at least 2 samples, got {len(z)}")
    return z, v


# -- segmentation ------------------------------------------------------------------
def _contingency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """n_ij = #pixels with the i-th label of a and the j-th label of b: int [La, Lb]."""
    _, ia = np.unique(a, return_inverse=True)
    lb, ib = np.unique(b, return_inverse=True)
    na, nb = ia.max() + 1, len(lb)
    return np.bincount(ia.ravel() * nb + ib.ravel(), minlength=na * nb).reshape(na, nb)


def adjusted_rand_index(true, pred) -> float:
    """ARI of two labellings of the same items (Hubert & Arabie 1985).

    (index − expected) / (max − expected) over pairs of items, where index =
    Σ C(n_ij, 2), a = Σ C(row sums, 2), b = Σ C(column sums, 2), expected =
    a b / C(n, 2), max = (a + b) / 2. Two identical degenerate labellings (all
    one cluster, or all singletons) give 1, as in scikit-learn. Empty → NaN.
    Computed in exact integers: no overflow or rounding for any image size.
    """
    t, p = np.asarray(true).ravel(), np.asarray(pred).ravel()
    if t.size != p.size:
        raise CometError(f"ARI: labellings have {t.size} and {p.size} items")
    if t.size == 0:
        return math.nan
    c = _contingency(t, p)

    def pairs(counts) -> int:
        return int((counts * (counts - 1) // 2).sum())

    index, a, b, total = pairs(c), pairs(c.sum(1)), pairs(c.sum(0)), t.size * (t.size - 1) // 2
    # Multiply numerator and denominator by 2·total to stay in integers.
    numerator = 2 * (index * total - a * b)
    denominator = (a + b) * total - 2 * a * b
    return 1.0 if denominator == 0 else numerator / denominator


def ari_scores(true_masks, pred_masks, *, foreground: bool = False) -> np.ndarray:
    """Per-image ARI [N]. foreground=True drops ground-truth background pixels (label 0);
    an image without foreground then scores NaN (skipped by fg_ari's mean)."""
    true, pred = _mask_pair(true_masks, pred_masks, "fg-ARI" if foreground else "ARI")
    scores = np.empty(len(true))
    for i, (t, p) in enumerate(zip(true, pred)):
        keep = t > 0 if foreground else slice(None)
        scores[i] = adjusted_rand_index(t[keep], p[keep])
    return scores


def ari(true_masks, pred_masks) -> float:
    """Mean over images of the ARI of all pixels (background is one more segment)."""
    return float(np.mean(ari_scores(true_masks, pred_masks)))


def fg_ari(true_masks, pred_masks) -> float:
    """Mean over images of the ARI on ground-truth foreground pixels only.

    Inflated on sparse scenes: K vertical stripes already score ~0.45 on
    CLEVR-like images (see comet_zoo.eval.baselines.trivial) — report a baseline beside it.
    """
    scores = ari_scores(true_masks, pred_masks, foreground=True)
    if np.all(np.isnan(scores)):
        raise CometError("fg-ARI: no image has foreground pixels (label > 0) in its ground-truth mask")
    return float(np.nanmean(scores))


def covering_scores(true_masks, pred_masks, *, weighted: bool = False,
                    ignore_background: bool = True) -> np.ndarray:
    """Per-image segmentation covering of the ground truth by the prediction [N].

    For each ground-truth segment R: best IoU with any predicted segment (the
    predicted segments span the whole image). Unweighted: mean over R; weighted:
    Σ |R| · IoU_R / Σ |R| (Arbeláez et al. 2011; as used by GENESIS and COMET
    with the background segment ignored). An image without ground-truth segments
    scores NaN.
    """
    true, pred = _mask_pair(true_masks, pred_masks, "segmentation covering")
    scores = np.empty(len(true))
    for i, (t, p) in enumerate(zip(true, pred)):
        labels = np.unique(t)
        c = _contingency(t, p).astype(np.float64)       # [gt segments, predicted segments]
        if ignore_background:
            c = c[labels != 0]
        if len(c) == 0:
            scores[i] = math.nan
            continue
        size_t = c.sum(1, keepdims=True)                # |R| [G, 1]
        size_p = np.bincount(np.unique(p, return_inverse=True)[1].ravel()).astype(np.float64)[None]  # [1, P]
        best = (c / (size_t + size_p - c)).max(1)       # best IoU per gt segment [G]
        size_t = size_t[:, 0]
        scores[i] = (size_t * best).sum() / size_t.sum() if weighted else best.mean()
    return scores


def segmentation_covering(true_masks, pred_masks, *, weighted: bool = False,
                          ignore_background: bool = True) -> float:
    """Mean segmentation covering over images (unweighted by default; weighted=True
    weights each ground-truth segment by its pixel count)."""
    scores = covering_scores(true_masks, pred_masks, weighted=weighted, ignore_background=ignore_background)
    if np.all(np.isnan(scores)):
        raise CometError("segmentation covering: no image has a ground-truth segment to cover")
    return float(np.nanmean(scores))


def segmentation_scores(true_masks, pred_masks) -> dict:
    """The four segmentation numbers of a table row: fg_ari, ari, msc (unweighted
    covering) and wsc (weighted covering), each a mean over images."""
    return {
        "fg_ari": fg_ari(true_masks, pred_masks),
        "ari": ari(true_masks, pred_masks),
        "msc": segmentation_covering(true_masks, pred_masks),
        "wsc": segmentation_covering(true_masks, pred_masks, weighted=True),
    }


def object_ious(true_masks, pred_masks, k: int, *, objects_only: bool = False) -> np.ndarray:
    """[N, K]: each component's best IoU with any ground-truth object (label > 0) in each
    image (pred labels 0..K-1; others, e.g. -1 for unassigned, belong to none); 0 where it
    wins no pixel. objects_only: within the objects' pixels, as fg-ARI scores (for a read-out
    that gives every pixel to a component, the floor it wins would swamp it)."""
    ious, _, _ = _component_counts(true_masks, pred_masks, k, objects_only, "object IoU")
    return ious


def _component_counts(true_masks, pred_masks, k: int, objects_only: bool, metric: str):
    """(IoU [N, K], background pixels won [K] with the background total, area shares [K])."""
    true, pred = _mask_pair(true_masks, pred_masks, metric)
    if k < 1:
        raise CometError(f"{metric}: k must be >= 1, got {k}")
    n = len(true)
    iou = np.zeros((n, k))
    bg_won, bg_total, area = np.zeros(k), 0, np.zeros(k)
    for i, (t, p) in enumerate(zip(true, pred)):
        t, p = t.ravel(), p.ravel()
        objects = int(t.max()) + 1 if t.size else 1
        valid = (p >= 0) & (p < k)
        # joint[g, j] = #pixels of ground-truth label g won by component j   [G, K]
        joint = np.bincount(t[valid] * k + p[valid], minlength=objects * k).reshape(objects, k)
        size_t = np.bincount(t, minlength=objects)[:, None]         # [G, 1]
        size_p = joint.sum(0)[None]                                 # [1, K]
        if objects > 1:
            inter = joint[1:]                                       # objects only [G-1, K]
            won = inter.sum(0)[None] if objects_only else size_p    # [1, K]
            union = size_t[1:] + won - inter
            iou[i] = np.where(union > 0, inter / np.maximum(union, 1), 0.0).max(0)
        bg_won += joint[0]
        bg_total += int(size_t[0, 0])
        area += size_p[0] / t.size
    return iou, (bg_won, bg_total), area / max(n, 1)


def component_roles(true_masks, pred_masks, k: int, *, bind_iou: float = 0.5, objects_only: bool = False) -> dict:
    """What each of K components segments, as lists of K numbers, means over images:
        object_iou   its best IoU with any ground-truth object (`object_ious`)
        binds        the fraction of images in which that IoU is >= bind_iou: it is an object
        background   the share of the ground-truth background pixels it wins
        area         the share of all pixels it wins
    How local components get their names on a card: a component that binds is an object,
    one that wins most of the background is the background."""
    iou, (bg_won, bg_total), area = _component_counts(true_masks, pred_masks, k, objects_only, "component roles")
    return {"object_iou": iou.mean(0).round(4).tolist(),
            "binds": (iou >= bind_iou).mean(0).round(4).tolist(),
            "background": (bg_won / max(bg_total, 1)).round(4).tolist(),
            "area": area.round(4).tolist()}


def component_names(roles: dict, *, binds: float = 0.25) -> list[str]:
    """Names for K local components from `component_roles`: the one that wins most of the
    background is `bg` if it wins more than a third of it and binds objects in fewer than
    `binds` of the images; the others that bind objects in at least `binds` of the images are
    obj0, obj1, … in component order; the rest are part0, part1, …"""
    k = len(roles["binds"])
    bg = int(np.argmax(roles["background"]))
    if roles["background"][bg] <= 1 / 3 or roles["binds"][bg] >= binds:
        bg = -1
    names, objects, parts = [], 0, 0
    for j in range(k):
        if j == bg:
            names.append("bg")
        elif roles["binds"][j] >= binds:
            names.append(f"obj{objects}")
            objects += 1
        else:
            names.append(f"part{parts}")
            parts += 1
    return names


# -- reconstruction -------------------------------------------------------------------
def mse(images, targets) -> float:
    """Mean squared error over all pixels and images."""
    a, b = _image_pair(images, targets, "MSE")
    return float(np.mean((a - b) ** 2))


def psnr(images, targets, data_range: float = 1.0) -> float:
    """Mean over images of 10 log10(range² / MSE_image), in dB; identical images → inf."""
    a, b = _image_pair(images, targets, "PSNR")
    per_image = np.mean((a - b) ** 2, axis=(1, 2, 3))  # [N]
    with np.errstate(divide="ignore"):
        return float(np.mean(10 * np.log10(data_range ** 2 / per_image)))


def _gaussian_window(size: int, sigma: float) -> np.ndarray:
    offsets = np.arange(size) - (size - 1) / 2
    g = np.exp(-offsets ** 2 / (2 * sigma ** 2))
    return g / g.sum()                                  # [size], sums to 1


def _filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' Gaussian filtering of the last two axes: [..., H, W] → [..., H−s+1, W−s+1]."""
    x = np.lib.stride_tricks.sliding_window_view(x, len(g), axis=-1) @ g
    return np.lib.stride_tricks.sliding_window_view(x, len(g), axis=-2) @ g


def ssim(images, targets, *, data_range: float = 1.0, window: int = 11, sigma: float = 1.5) -> float:
    """Mean structural similarity (Wang et al. 2004) with an 11×11 Gaussian window (σ 1.5).

    Per channel, 'valid' windows only (no padding), constants K1 = 0.01, K2 = 0.03;
    averaged over channels, positions and images. On images smaller than the
    window the window shrinks to the largest odd size that fits.
    """
    a, b = _image_pair(images, targets, "SSIM")
    size = min(window, a.shape[-1], a.shape[-2])
    size -= 1 - size % 2                                 # odd
    g = _gaussian_window(size, sigma)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = _filter_valid(a, g), _filter_valid(b, g)
    var_a = _filter_valid(a * a, g) - mu_a ** 2
    var_b = _filter_valid(b * b, g) - mu_b ** 2
    cov = _filter_valid(a * b, g) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


# -- disentanglement --------------------------------------------------------------------
def pca_reduce(latents, dim: int) -> np.ndarray:
    """The paper's protocol: latents of all components flattened, projected on the top
    `dim` principal components. [N, K, D] (or [N, M]) → [N, dim] float64.

    Each component's sign is fixed (largest loading positive) so the result is
    deterministic.
    """
    z = _array(latents, "latents", "PCA", np.float64)
    if z.ndim < 2:
        raise CometError(f"PCA: latents must be [N, K, D] or [N, M]; got {z.shape}")
    z = z.reshape(len(z), -1)                           # [N, K*D]
    if not 1 <= dim <= min(z.shape):
        raise CometError(f"PCA: dimension {dim} must be in 1..{min(z.shape)} for latents of shape {z.shape}")
    z = z - z.mean(0)
    _, _, vt = np.linalg.svd(z, full_matrices=False)    # vt [min(N, M), M]
    basis = vt[:dim]                                     # [dim, M]
    signs = np.sign(basis[np.arange(dim), np.abs(basis).argmax(1)])
    return z @ (basis * signs[:, None]).T


def discretize(values, bins: int = 20) -> np.ndarray:
    """Integer codes per column [N, F]: a column with at most `bins` distinct values
    keeps them; otherwise equal-width histogram bins over its range."""
    v = np.asarray(values, dtype=np.float64)
    v = v[:, None] if v.ndim == 1 else v
    codes = np.empty(v.shape, dtype=np.int64)
    for j, col in enumerate(v.T):
        distinct, inverse = np.unique(col, return_inverse=True)
        if len(distinct) <= bins:
            codes[:, j] = inverse
        else:
            edges = np.linspace(col.min(), col.max(), bins + 1)[1:-1]
            codes[:, j] = np.digitize(col, edges)
    return codes


def _entropy(codes: np.ndarray) -> float:
    p = np.bincount(codes) / len(codes)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """I(a; b) in nats of two discrete codes [N]."""
    joint = _contingency(a, b) / len(a)                 # [La, Lb]
    outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / outer[nz])).sum())


def mig(latents, factors, *, bins: int = 20) -> float:
    """Mutual information gap (Chen et al. 2018), in [0, 1].

    Latents (and continuous factors) discretised into `bins` equal-width bins;
    for each factor v_k: (largest − second largest I(z_j; v_k)) / H(v_k), then
    the mean over factors. Constant factors (H = 0) are skipped.
    """
    z, v = _latents_factors(latents, factors, "MIG")
    if z.shape[1] < 2:
        raise CometError("MIG needs at least 2 latent dimensions")
    zc, vc = discretize(z, bins), discretize(v, bins)
    gaps = []
    for k in range(vc.shape[1]):
        h = _entropy(vc[:, k])
        if h == 0:
            continue
        mi = np.sort([mutual_information(zc[:, j], vc[:, k]) for j in range(zc.shape[1])])[::-1]
        gaps.append((mi[0] - mi[1]) / h)
    if not gaps:
        raise CometError("MIG: every factor is constant over these samples")
    return float(np.mean(gaps))


def _ranks(col: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions), for Spearman."""
    _, inverse, counts = np.unique(col, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + ends - 1) / 2)[inverse]


def correlation_matrix(latents, factors, *, method: str = "pearson") -> np.ndarray:
    """|corr(z_i, v_j)| [d, F]; a constant column correlates 0 with everything."""
    z, v = _latents_factors(latents, factors, "correlation")
    if method == "spearman":
        z = np.apply_along_axis(_ranks, 0, z)
        v = np.apply_along_axis(_ranks, 0, v)
    elif method != "pearson":
        raise CometError(f"unknown correlation {method!r}; known: pearson, spearman")
    z = z - z.mean(0)
    v = v - v.mean(0)
    zn, vn = np.linalg.norm(z, axis=0), np.linalg.norm(v, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (z.T @ v) / np.outer(zn, vn)
    return np.nan_to_num(np.abs(corr), nan=0.0, posinf=0.0)


def mcc(latents, factors, *, method: str = "pearson") -> float:
    """Mean correlation coefficient (Khemakhem et al. 2020), in [0, 1].

    |correlation| between every latent and every factor, latents matched
    one-to-one to factors to maximise the total (Hungarian algorithm), then the
    mean over the min(d, F) matched pairs.
    """
    corr = correlation_matrix(latents, factors, method=method)  # [d, F]
    rows, cols = max_assignment(corr)
    return float(corr[rows, cols].mean())


def betavae_score(latents, factors, *, n_train: int = 800, n_eval: int = 400, batch: int = 64,
                  bins: int = 20, seed: int = 0) -> float:
    """BetaVAE score (Higgins et al. 2017): accuracy in [0, 1] (the paper prints it ×100).

    One sample: pick a factor k, a value of it, and `batch` pairs of data points
    that share that (discretised) value; the feature is the mean |z_a − z_b| over
    the pairs [d], the label is k. A latent that encodes only k varies least.
    Pairs are drawn from the given data set rather than rendered on demand, so
    the other factors vary as they do in the data. Classifier: multinomial
    logistic regression (ours, NumPy, on standardised features), trained on
    n_train samples, scored on n_eval fresh ones.
    """
    z, v = _latents_factors(latents, factors, "BetaVAE score")
    codes = discretize(v, bins)
    rng = np.random.default_rng(seed)
    # For each factor: the groups of data points sharing one value (at least 2 points).
    groups = {}
    for k in range(codes.shape[1]):
        members = [np.nonzero(codes[:, k] == c)[0] for c in np.unique(codes[:, k])]
        members = [m for m in members if len(m) >= 2]
        if members and len(np.unique(codes[:, k])) > 1:     # the factor varies and repeats
            groups[k] = members
    if len(groups) < 2:
        raise CometError("BetaVAE score needs at least 2 factors that vary and repeat a value")
    usable = np.array(sorted(groups))

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.choice(usable, size=n)
        feats = np.empty((n, z.shape[1]))
        for i, k in enumerate(labels):
            sizes = np.array([len(m) for m in groups[k]], dtype=np.float64)
            members = groups[k][rng.choice(len(sizes), p=sizes / sizes.sum())]  # a value, by frequency
            a, b = rng.choice(members, size=(2, batch))
            feats[i] = np.abs(z[a] - z[b]).mean(0)       # [d]
        return feats, labels

    x_train, y_train = draw(n_train)
    x_eval, y_eval = draw(n_eval)
    classifier = SoftmaxClassifier().fit(x_train, y_train)
    return float(np.mean(classifier.predict(x_eval) == y_eval))


def dci(latents, factors, *, alpha: float = 0.02, train_fraction: float = 0.7, seed: int = 0) -> dict:
    """Disentanglement, completeness, informativeness (Eastwood & Williams 2018).

    Importance model: lasso on standardised latents and factors (ours, NumPy;
    linear, so a factor encoded non-linearly is under-credited); R[i, j] = |w_ij|.
      disentanglement = Σ_i ρ_i (1 − H_F(R_i· / Σ_j R_ij)),  ρ_i = Σ_j R_ij / Σ R
      completeness    = Σ_j ρ_j (1 − H_d(R_·j / Σ_i R_ij)),  ρ_j = Σ_i R_ij / Σ R
    (entropies in base F and d, so each lies in [0, 1]);
      informativeness = mean over factors of the held-out R² of the lasso
    (clipped at 0; 1 = every factor linearly predictable). Returns a dict of the three.
    Read D and C only beside I: when the latents predict nothing (I ≈ 0), R holds
    the lasso's noise, and D and C are arbitrary (random latents score ~0.75).
    """
    z, v = _latents_factors(latents, factors, "DCI")
    keep = v.std(0) > 0
    v = v[:, keep]
    if v.shape[1] < 2 or z.shape[1] < 2:
        raise CometError("DCI needs at least 2 latent dimensions and 2 varying factors")
    order = np.random.default_rng(seed).permutation(len(z))
    cut = max(1, min(len(z) - 1, int(train_fraction * len(z))))
    train, test = order[:cut], order[cut:]
    mean_z, std_z = z[train].mean(0), z[train].std(0) + 1e-12
    mean_v, std_v = v[train].mean(0), v[train].std(0) + 1e-12
    zs, vs = (z - mean_z) / std_z, (v - mean_v) / std_v
    w = lasso(zs[train], vs[train], alpha)               # [d, F]
    r = np.abs(w)
    residual = ((vs[test] - zs[test] @ w) ** 2).mean(0)
    r2 = np.clip(1 - residual / np.maximum(vs[test].var(0), 1e-12), 0, 1)
    if r.sum() == 0:                                     # nothing predicts anything
        return {"disentanglement": 0.0, "completeness": 0.0, "informativeness": float(r2.mean())}

    def one_minus_entropy(p: np.ndarray, base: int) -> np.ndarray:
        # rows of p are distributions; a zero row (an unused latent) gets weight 0 anyway
        p = p / np.maximum(p.sum(1, keepdims=True), 1e-300)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -np.where(p > 0, p * np.log(p), 0).sum(1) / np.log(base)
        return 1 - h

    rho_code = r.sum(1) / r.sum()                        # [d]
    rho_factor = r.sum(0) / r.sum()                      # [F]
    return {
        "disentanglement": float((rho_code * one_minus_entropy(r, r.shape[1])).sum()),
        "completeness": float((rho_factor * one_minus_entropy(r.T, r.shape[0])).sum()),
        "informativeness": float(r2.mean()),
    }


def component_factor_r2(latents, factors, *, train_fraction: float = 0.7, ridge: float = 1e-3, seed: int = 0) -> np.ndarray:
    """What each component encodes: held-out R² of a ridge regression from one
    component's latent to each factor. latents [N, K, D], factors [N, F] → [K, F].

    A component that controls factor f predicts it (R² near 1); one that ignores it
    scores about 0 (negative when it predicts worse than the mean). This is how
    global components are named on a concept card.
    """
    z = _array(latents, "latents", "component_factor_r2", np.float64)
    f = _array(factors, "factors", "component_factor_r2", np.float64)
    if z.ndim != 3 or f.ndim != 2 or len(z) != len(f):
        raise CometError(f"component_factor_r2: expected latents [N, K, D] and factors [N, F], "
                         f"got {z.shape} and {f.shape}")
    n = len(z)
    order = np.random.default_rng(seed).permutation(n)
    cut = int(n * train_fraction)
    if cut < 2 or n - cut < 2:
        raise CometError(f"component_factor_r2: needs at least 4 scenes, got {n}")
    tr, te = order[:cut], order[cut:]
    out = np.zeros((z.shape[1], f.shape[1]))
    for k in range(z.shape[1]):
        x = z[:, k]
        mu, sd = x[tr].mean(0), x[tr].std(0) + 1e-8
        x = np.concatenate([(x - mu) / sd, np.ones((n, 1))], axis=1)                 # [N, D + 1]
        a = x[tr].T @ x[tr] + ridge * len(tr) * np.eye(x.shape[1])
        w = np.linalg.solve(a, x[tr].T @ f[tr])                                      # [D + 1, F]
        resid = ((x[te] @ w - f[te]) ** 2).sum(0)
        total = ((f[te] - f[tr].mean(0)) ** 2).sum(0)
        out[k] = 1.0 - resid / np.maximum(total, 1e-12)
    return out
