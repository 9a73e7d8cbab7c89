"""Ray–primitive intersection in each shape's unit space, vectorised over rays.

Every primitive is defined once in a canonical "unit" frame (centred at the origin,
axis along z) and placed in the world by a scale, a rotation about z and a
translation. Transforming the ray instead of the shape keeps the ray parameter t
unchanged (the world point is o + t·d in both frames, d is not renormalised), so
depth tests can compare t across objects directly. A unit-space normal n maps to
the world as n / scale (inverse transpose of a diagonal scale).

Shapes and their unit boxes (half-extents; the scene's `extent` multiplies them):
    sphere    |p| <= 1                                    (1, 1, 1)
    cube      |x|,|y|,|z| <= 1                            (1, 1, 1)
    cylinder  x²+y² <= 1, |z| <= 1                        (1, 1, 1)
    cone      apex (0,0,1), base radius 1 at z = -1       (1, 1, 1)
    capsule   x²+y² <= 1 for |z| <= 1, hemispherical caps (1, 1, 2)
    ring      0.55² <= x²+y² <= 1, |z| <= 1 (a washer)    (1, 1, 1)
"""

from __future__ import annotations

import numpy as np

SHAPES = ("sphere", "cube", "cylinder", "cone", "capsule", "ring")
UNIT_EXTENT = {s: (1.0, 1.0, 2.0) if s == "capsule" else (1.0, 1.0, 1.0) for s in SHAPES}
RING_INNER = 0.55
EPS = 1e-4


def dot(a, b):
    """Dot product over the last axis of [..., 3] arrays (faster than .sum(-1) on 3 elements)."""
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def _roots(a, b, c):
    """Both roots of a t² + 2b t + c = 0 (inf where there is none), in no particular order."""
    disc = b * b - a * c
    root = np.sqrt(np.maximum(disc, 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-b - root) / a
        t2 = (-b + root) / a
    miss = disc < 0
    t1[miss] = np.inf
    t2[miss] = np.inf
    return t1, t2


def _plane(o, d, axis, value):
    """t where the ray meets the plane p[axis] = value (nan/inf when parallel)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (value - o[..., axis]) / d[..., axis]


def _closest(candidates):
    """candidates: list of (t, valid) with t [...]; → (t_min [...], index of the winner [...])."""
    best, idx = None, None
    for c, (t, valid) in enumerate(candidates):  # a running minimum: no [C, ...] stack
        tc = np.where(valid & (t > EPS), t, np.inf)
        if best is None:
            best, idx = tc, np.zeros(tc.shape, np.int8)
        else:
            better = tc < best
            np.copyto(best, tc, where=better)
            idx[better] = c
    return best, idx


def _at(o, d, t):
    """Points o + t d; misses (t = inf) land on 0 so later arithmetic stays finite."""
    tf = np.where(np.isfinite(t), t, 0)[..., None]
    return o + tf * d


def _broadcast(o, d):
    shape = np.broadcast_shapes(o.shape, d.shape)
    return np.broadcast_to(o, shape), np.broadcast_to(d, shape)


def intersect(shape: str, o: np.ndarray, d: np.ndarray, normals: bool = True):
    """Nearest hit with t > EPS of rays o + t·d with a unit shape.

    o, d: [..., 3] float32, broadcastable to each other. Returns t [...] (inf on a
    miss) and, with `normals`, the unit-space outward normal [..., 3] (not unit length).
    """
    o, d = _broadcast(o, d)
    ox, oy, oz = o[..., 0], o[..., 1], o[..., 2]
    dx, dy, dz = d[..., 0], d[..., 1], d[..., 2]
    if shape == "sphere":
        t1, t2 = _roots(dot(d, d), dot(o, d), dot(o, o) - 1)
        t, _ = _closest([(t1, True), (t2, True)])
        return (t, _at(o, d, t)) if normals else (t, None)
    if shape == "cube":
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / d
            lo, hi = (-1 - o) * inv, (1 - o) * inv                  # [..., 3]
        near, far = np.minimum(lo, hi), np.maximum(lo, hi)
        tn = np.maximum(np.maximum(near[..., 0], near[..., 1]), near[..., 2])
        tf = np.minimum(np.minimum(far[..., 0], far[..., 1]), far[..., 2])
        hit = (tn <= tf) & (tf > EPS)
        t = np.where(hit, np.where(tn > EPS, tn, tf), np.inf)
        if not normals:
            return t, None
        # the entering face is the slab whose near plane is crossed last
        face = (near == tn[..., None]) & (tn > EPS)[..., None]
        n = np.where(face, -np.sign(d), 0).astype(np.float32)
        return t, n
    a_side, b_side, c_side = dx * dx + dy * dy, ox * dx + oy * dy, ox * ox + oy * oy
    if shape in ("cylinder", "capsule", "ring"):
        s1, s2 = _roots(a_side, b_side, c_side - 1)                   # outer side
        zs1, zs2 = oz + s1 * dz, oz + s2 * dz
        cands = [(s1, np.abs(zs1) <= 1), (s2, np.abs(zs2) <= 1)]
        if shape == "cylinder" or shape == "ring":
            inner = RING_INNER ** 2 if shape == "ring" else -1.0
            for z in (1.0, -1.0):
                tc = _plane(o, d, 2, z)
                r2 = (ox + tc * dx) ** 2 + (oy + tc * dy) ** 2
                cands.append((tc, (r2 <= 1) & (r2 >= inner)))
            if shape == "ring":
                i1, i2 = _roots(a_side, b_side, c_side - RING_INNER ** 2)  # the hole's wall
                cands += [(i1, np.abs(oz + i1 * dz) <= 1), (i2, np.abs(oz + i2 * dz) <= 1)]
        else:  # capsule: spheres of radius 1 at z = ±1, each valid beyond its end
            for zc in (1.0, -1.0):
                oc = o - np.array([0, 0, zc], np.float32)
                h1, h2 = _roots(dot(d, d), dot(oc, d), dot(oc, oc) - 1)
                cands += [(h, (oz + h * dz - zc) * zc >= 0) for h in (h1, h2)]
        t, idx = _closest(cands)
        if not normals:
            return t, None
        p = _at(o, d, t)
        side = np.concatenate([p[..., :2], np.zeros_like(p[..., 2:])], -1)
        if shape == "capsule":
            n = np.where((idx < 2)[..., None], side, p - np.where((idx < 4), 1.0, -1.0)[..., None] * [0, 0, 1])
        else:
            cap = np.zeros_like(p)
            cap[..., 2] = np.where(idx == 2, 1.0, -1.0)
            n = np.where((idx < 2)[..., None], side, np.where((idx < 4)[..., None], cap, -side))
        return t, n.astype(np.float32)
    if shape == "cone":
        w = 1 - oz                                                     # distance below the apex
        r1, r2 = _roots(4 * a_side - dz * dz, 4 * b_side + w * dz, 4 * c_side - w * w)
        tb = _plane(o, d, 2, -1.0)
        rb = (ox + tb * dx) ** 2 + (oy + tb * dy) ** 2
        zr1, zr2 = oz + r1 * dz, oz + r2 * dz
        t, idx = _closest([(r1, (zr1 >= -1) & (zr1 <= 1)), (r2, (zr2 >= -1) & (zr2 <= 1)), (tb, rb <= 1)])
        if not normals:
            return t, None
        p = _at(o, d, t)
        side = np.stack([4 * p[..., 0], 4 * p[..., 1], 1 - p[..., 2]], -1)
        base = np.broadcast_to(np.array([0, 0, -1], np.float32), p.shape)
        return t, np.where((idx < 2)[..., None], side, base).astype(np.float32)
    raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
