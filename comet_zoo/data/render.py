"""The procedural renderer: a batch of 3-D scenes → images, instance masks.

Ray casting in NumPy, vectorised over a batch of scenes. Per scene: a perspective
camera, a ground plane z = 0, up to M objects (primitives of `raycast`), one
light (directional or point), Lambert diffuse + Blinn-Phong specular, a fake
environment reflection on metal, and hard cast shadows.

Speed comes from screen-space tiles: each object slot is ray-cast only inside the
smallest pixel rectangle that holds its projected bounding box (and, for shadows,
the box swept to the ground along the light), not over the whole frame. Within one
slot the scenes of the batch never collide, so depth tests are plain gathers and
scatters; slots are processed in order and the z-buffer keeps the nearest hit,
which makes occlusion exact whatever the order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .raycast import SHAPES, UNIT_EXTENT, dot, intersect

FAR = np.float32(1e4)
SKY = -1          # id-buffer value of rays that hit nothing
GROUND = 0        # id of the ground; objects are 1..M in slot order


@dataclass
class SceneArrays:
    """B scenes as arrays (struct of arrays); slot m of scene b is object m + 1 of its mask."""

    cam_pos: np.ndarray        # float32 [B, 3]
    look_at: np.ndarray        # float32 [B, 3]
    fov: np.ndarray            # float32 [B], vertical field of view in degrees
    light: np.ndarray          # float32 [B, 3]: unit direction *towards* the light, or its position
    light_colour: np.ndarray   # float32 [B, 3]: colour × intensity
    ambient: np.ndarray        # float32 [B, 3]
    ground: np.ndarray         # float32 [B, 3]: ground albedo
    active: np.ndarray         # bool [B, M]
    shape: np.ndarray          # int64 [B, M]: index into raycast.SHAPES
    centre: np.ndarray         # float32 [B, M, 3]
    extent: np.ndarray         # float32 [B, M, 3]: scale of the unit shape along x, y, z
    angle: np.ndarray          # float32 [B, M]: rotation about z, radians
    colour: np.ndarray         # float32 [B, M, 3]: albedo
    metal: np.ndarray          # bool [B, M]
    backdrop: np.ndarray | None = None   # bool [B, M]: part of the set (walls, furniture), mask label 0
    shadowless: np.ndarray | None = None # bool [B, M]: casts no shadow (walls enclosing the light)
    point_light: bool = False  # light is a position; its colour falls off as 1/d²

    def __len__(self) -> int:
        return len(self.cam_pos)


def camera_basis(cam_pos, look_at):
    """Forward, right, up unit vectors, each [B, 3] (z is up in the world)."""
    f = look_at - cam_pos
    f /= np.linalg.norm(f, axis=-1, keepdims=True)
    r = np.cross(f, np.array([0, 0, 1], np.float32))
    straight = np.linalg.norm(r, axis=-1) < 1e-6                  # looking straight up or down
    r[straight] = (1, 0, 0)
    r /= np.linalg.norm(r, axis=-1, keepdims=True)
    return f, r, np.cross(r, f)


def _project(points, cam_pos, basis, tan, h, w):
    """World points [B, M, P, 3] → pixel rows, cols [B, M, P] and depth along the view axis."""
    f, r, u = (v[:, None, None, :] for v in basis)
    q = points - cam_pos[:, None, None, :]
    depth = dot(q, f)
    safe = np.maximum(depth, 1e-3)
    x = dot(q, r) / safe / tan[:, None, None]
    y = dot(q, u) / safe / tan[:, None, None]
    return (1 - y) * 0.5 * h - 0.5, (x + 1) * 0.5 * w - 0.5, depth


def _tiles(k, rows, cols, depth, h, w):
    """Pixel rectangles holding projected point sets, grouped by size.

    k: [K] scenes that hold the slot; rows, cols, depth: [K, P]. Yields (k, top, left,
    th, tw) per group, one tile size per group: small and large objects go to separate
    groups so that a single near object does not blow up every scene's tile.
    A point behind the camera makes the tile the whole frame.
    """
    behind = (depth <= 1e-2).any(-1)
    r0 = np.clip(np.floor(rows.min(-1)), 0, h - 1).astype(np.int64)
    c0 = np.clip(np.floor(cols.min(-1)), 0, w - 1).astype(np.int64)
    r1 = np.clip(np.ceil(rows.max(-1)), 0, h - 1).astype(np.int64)
    c1 = np.clip(np.ceil(cols.max(-1)), 0, w - 1).astype(np.int64)
    r0[behind], c0[behind], r1[behind], c1[behind] = 0, 0, h - 1, w - 1
    th, tw = r1 - r0 + 1, c1 - c0 + 1
    area = th * tw                                                           # [K]
    # quartiles of tile area (for >= 32 scenes): fewer wasted rays, few enough NumPy calls
    cuts = np.quantile(area, [0.25, 0.5, 0.75]) if len(k) >= 32 else np.array([])
    group = np.searchsorted(cuts, area)
    for g in (group == i for i in range(len(cuts) + 1)):
        if g.any():
            gh, gw = int(th[g].max()), int(tw[g].max())
            yield k[g], np.minimum(r0[g], h - gh), np.minimum(c0[g], w - gw), gh, gw


def _tile(b, top, left, th, tw, h, w):
    """Tiles of scenes b [K]: flat indices [K, th, tw] into a [B*H*W] buffer, rows [K, th], cols [K, tw]."""
    rows = top[:, None] + np.arange(th)
    cols = left[:, None] + np.arange(tw)
    return (b[:, None, None] * h + rows[:, :, None]) * w + cols[:, None, :], rows, cols


class _Rays:
    """Per-pixel primary rays d = f + X·r + Y·u, deliberately *not* normalised.

    Every depth t is measured along the same d of its pixel, so z-tests stay exact
    while no [B, H, W, 3] direction buffer is ever built; |d| = sqrt(1 + X² + Y²)
    because f, r, u are orthonormal.
    """

    def __init__(self, scenes: SceneArrays, h: int, w: int):
        self.f, self.r, self.u = camera_basis(scenes.cam_pos, scenes.look_at)   # [B, 3] each
        self.tan = np.tan(np.radians(scenes.fov) / 2).astype(np.float32)         # [B]
        xs = ((np.arange(w, dtype=np.float32) + 0.5) / w * 2 - 1) * (w / h)      # [W]
        ys = 1 - (np.arange(h, dtype=np.float32) + 0.5) / h * 2                  # [H]
        self.X = xs[None, :] * self.tan[:, None]                                 # [B, W]
        self.Y = ys[None, :] * self.tan[:, None]                                 # [B, H]

    def tile(self, k, rows, cols, linear):
        """Directions [K, th, tw, 3] of the tile pixels of scenes k, mapped by `linear`.

        `linear` ([K, 3] → [K, 3]) takes the camera basis into an object's unit space:
        transforming 3 basis vectors is cheaper than transforming every ray.
        """
        X = self.X[k[:, None], cols][:, None, :, None]                           # [K, 1, tw, 1]
        Y = self.Y[k[:, None], rows][:, :, None, None]                           # [K, th, 1, 1]
        f, r, u = (linear(v[k])[:, None, None] for v in (self.f, self.r, self.u))
        return f + X * r + Y * u

    def pixels(self, b, row, col):
        """Directions [S, 3] of single pixels (scene b, row, col: [S] each)."""
        return self.f[b] + self.X[b, col, None] * self.r[b] + self.Y[b, row, None] * self.u[b]


def _normal_to_world(n, angle, extent):
    """Unit-space normals [S, 3] of objects with angle [S], extent [S, 3] → unit world normals."""
    n = n / extent
    c, s = np.cos(angle), np.sin(angle)
    x, y = n[:, 0], n[:, 1]
    out = np.stack([c * x - s * y, s * x + c * y, n[:, 2]], -1)
    return out * (1 / np.sqrt(np.maximum(dot(out, out), 1e-24)))[:, None]


def _corners(scenes: SceneArrays):
    """World corners of each object's rotated bounding box: [B, M, 8, 3]."""
    unit = np.array([UNIT_EXTENT[s] for s in SHAPES], np.float32)[scenes.shape]       # [B, M, 3]
    signs = np.array([[i >> 2 & 1, i >> 1 & 1, i & 1] for i in range(8)], np.float32) * 2 - 1  # [8, 3]
    local = signs * (unit * scenes.extent)[:, :, None, :]                               # [B, M, 8, 3]
    c, s = np.cos(scenes.angle)[..., None], np.sin(scenes.angle)[..., None]
    x, y = local[..., 0], local[..., 1]
    world = np.stack([c * x - s * y, s * x + c * y, local[..., 2]], -1)
    return world + scenes.centre[:, :, None, :]


def _shape_groups(shape_idx):
    """{shape index: positions} for the shapes present in an int array."""
    return {int(s): np.nonzero(shape_idx == s)[0] for s in np.unique(shape_idx)}


def _cast(shape, o, d, normals):
    """Intersect unit-space rays o + t·d ([K, ..., 3], broadcastable) with shapes [K] (SHAPES index).

    Returns t [K, ...] (inf on a miss) and unit-space normals [K, ..., 3] (or None).
    """
    size = np.broadcast_shapes(o.shape, d.shape)
    t = np.full(size[:-1], np.inf, np.float32)
    n = np.zeros(size, np.float32) if normals else None
    for s, pos in _shape_groups(shape).items():
        ts, ns = intersect(SHAPES[s], o[pos], d[pos], normals)
        t[pos] = ts
        if normals:
            n[pos] = ns
    return t, n


def _frame(scenes, m, k):
    """Maps of slot m of scenes k into unit-shape space: (points [K, 3] → ..., vectors [K, 3] → ...)."""
    centre, angle, extent = scenes.centre[k, m], scenes.angle[k, m], scenes.extent[k, m]
    c, s = np.cos(angle), np.sin(angle)
    def linear(v):
        return np.stack([(c * v[:, 0] + s * v[:, 1]) / extent[:, 0],
                         (c * v[:, 1] - s * v[:, 0]) / extent[:, 1], v[:, 2] / extent[:, 2]], -1)
    return (lambda p: linear(p - centre)), linear


def render(scenes: SceneArrays, height: int, width: int | None = None):
    """Render B scenes → images float32 [B, 3, H, W] in [0, 1], masks int64 [B, H, W].

    Mask values: 0 ground / backdrop / sky, m + 1 for object slot m (occlusion applied).
    """
    h, w = height, width or height
    bsz, slots = scenes.active.shape
    rays = _Rays(scenes, h, w)
    cam = scenes.cam_pos

    # ground plane z = 0: the starting z-buffer (t along the unnormalised pixel ray)
    dz = (rays.f[:, 2, None, None] + rays.X[:, None, :] * rays.r[:, 2, None, None]
          + rays.Y[:, :, None] * rays.u[:, 2, None, None])                     # [B, H, W]
    sky = (dz >= 0).reshape(-1)
    with np.errstate(divide="ignore"):
        zbuf = (-cam[:, 2, None, None] / dz).reshape(-1).astype(np.float32)   # [B*H*W]
    zbuf[sky] = FAR
    ids = np.zeros(bsz * h * w, np.int16)                                    # GROUND
    ids[sky] = SKY
    normal = np.empty((bsz * h * w, 3), np.float32)                          # valid where ids > 0

    corners = _corners(scenes)                                               # [B, M, 8, 3]
    rows, cols, depth = _project(corners, cam, (rays.f, rays.r, rays.u), rays.tan, h, w)
    for m in range(slots):
        k_all = np.nonzero(scenes.active[:, m])[0]
        for k, top, left, th, tw in _tiles(k_all, rows[k_all, m], cols[k_all, m], depth[k_all, m], h, w):
            idx, trow, tcol = _tile(k, top, left, th, tw, h, w)               # idx [K, th, tw]
            point, linear = _frame(scenes, m, k)
            t, n = _cast(scenes.shape[k, m], point(cam[k])[:, None, None], rays.tile(k, trow, tcol, linear), True)
            win = t < zbuf[idx]
            hit = idx[win]
            zbuf[hit] = t[win]
            ids[hit] = m + 1
            owner = k[np.nonzero(win)[0]]                                      # scene of each hit
            normal[hit] = _normal_to_world(n[win], scenes.angle[owner, m], scenes.extent[owner, m])

    # shadow rays from the visible points towards the light, tile by tile over each
    # object's box swept to the ground along the light
    lit = ids != SKY
    if scenes.point_light:
        lp = scenes.light[:, None, None, :]
        below = lp[..., 2:] > corners[..., 2:] + 1e-3
        scale = np.where(below, lp[..., 2:] / np.maximum(lp[..., 2:] - corners[..., 2:], 1e-3), 1e3)
        shadow_pts = lp + (corners - lp) * scale                             # corners seen from the light, on the ground
    else:
        ldir = scenes.light[:, None, None, :]
        shadow_pts = corners - corners[..., 2:] / np.maximum(ldir[..., 2:], 1e-2) * ldir
    swept = np.concatenate([corners, shadow_pts], axis=2)                     # [B, M, 16, 3]
    srows, scols, sdepth = _project(swept, cam, (rays.f, rays.r, rays.u), rays.tan, h, w)
    casts = scenes.active if scenes.shadowless is None else scenes.active & ~scenes.shadowless
    for m in range(slots):
        k_all = np.nonzero(casts[:, m])[0]
        for k, top, left, th, tw in _tiles(k_all, srows[k_all, m], scols[k_all, m], sdepth[k_all, m], h, w):
            idx, trow, tcol = _tile(k, top, left, th, tw, h, w)
            point, linear = _frame(scenes, m, k)
            # the frame map is affine, so hit points map as cam' + t·d' in unit space
            p = point(cam[k])[:, None, None] + zbuf[idx][..., None] * rays.tile(k, trow, tcol, linear)
            if scenes.point_light:
                t, _ = _cast(scenes.shape[k, m], p, point(scenes.light[k])[:, None, None] - p, False)
                blocked = t < 1.0                                            # the light is at t = 1
            else:
                t, _ = _cast(scenes.shape[k, m], p, linear(scenes.light[k])[:, None, None], False)
                blocked = np.isfinite(t)
            blocked &= ids[idx] != m + 1                                      # self-shadow is n·l < 0
            lit[idx[blocked]] = False

    images = _shade(scenes, rays, ids, normal, zbuf, lit, h, w)
    masks = np.maximum(ids, 0).astype(np.int64).reshape(bsz, h, w)
    if scenes.backdrop is not None and scenes.backdrop.any():
        table = np.concatenate([np.zeros((bsz, 1), bool), scenes.backdrop], 1)      # [B, M+1]
        masks[np.take_along_axis(table, masks.reshape(bsz, -1), 1).reshape(masks.shape)] = 0
    return images, masks


HAZE_START, HAZE_RANGE = 14.0, 30.0   # distance haze on the far ground hides the horizon


def _shade(scenes, rays, ids, normal, zbuf, lit, h, w):
    """Per-pixel colour from the id, normal, depth and shadow buffers → [B, 3, H, W].

    Under a directional light the ground is lit or shadowed, one colour each per scene,
    blended into haze; object pixels (and, for a point light, every pixel) get the full
    model on a compressed subset, since objects cover a small part of the frame.
    """
    bsz, hw = len(scenes.cam_pos), h * w
    amb, lcol, ground = scenes.ambient, scenes.light_colour, scenes.ground  # [B, 3] each
    horizon = np.clip(ground * (amb + 0.6 * lcol), 0, 1)                     # [B, 3]
    norm = np.sqrt(1 + rays.X[:, None, :] ** 2 + rays.Y[:, :, None] ** 2)    # [B, H, W] = |d|
    haze = np.clip((zbuf.reshape(bsz, h, w) * norm - HAZE_START) / HAZE_RANGE, 0, 1).reshape(bsz, 1, hw)
    if scenes.point_light:
        out = np.empty((bsz, 3, hw), np.float32)                              # channel-first: no transpose at the end
        full = ids != SKY
    else:
        shade = np.clip(ground * amb, 0, 1)                                  # [B, 3] in shadow
        sun = np.clip(ground * (amb + lcol * np.maximum(scenes.light[:, 2:], 0)), 0, 1)   # [B, 3] in light
        out = np.where(lit.reshape(bsz, 1, hw), sun[:, :, None], shade[:, :, None])     # [B, 3, HW]
        out += (horizon[:, :, None] - out) * haze
        full = ids > GROUND
    sel = np.flatnonzero(full)                                               # [S] pixels shaded in full
    b, pix = np.divmod(sel, hw)
    row, col = np.divmod(pix, w)
    lab = np.maximum(ids[sel], 0)
    n = normal[sel]
    n[lab == GROUND] = (0, 0, 1)
    d = rays.pixels(b, row, col)
    view = -d * (1 / np.sqrt(dot(d, d)))[:, None]                            # [S, 3] unit, towards the eye
    albedo = np.concatenate([ground[:, None], scenes.colour], 1)[b, lab]      # [S, 3]
    metal = np.concatenate([np.zeros((bsz, 1), bool), scenes.metal], 1)[b, lab][:, None]
    if scenes.point_light:
        p = scenes.cam_pos[b] + zbuf[sel, None] * d
        to_l = scenes.light[b] - p
        dist2 = np.maximum(dot(to_l, to_l), 1e-2)[:, None]
        ldir = to_l / np.sqrt(dist2)
        light = lcol[b] / dist2
    else:
        ldir, light = scenes.light[b], lcol[b]
    a = amb[b]
    ndl = np.maximum(dot(n, ldir), 0)[:, None] * lit[sel, None]
    half = ldir + view
    half *= (1 / np.sqrt(np.maximum(dot(half, half), 1e-12)))[:, None]
    ndh = np.maximum(dot(n, half), 0)[:, None] * (ndl > 0)
    # rubber: diffuse with a faint sheen; metal: darker diffuse, a tinted reflection of a
    # bright-above / dark-below environment, and a sharp highlight
    rz = (2 * dot(view, n) * n[:, 2] - view[:, 2])[:, None]                   # z of the reflected view ray
    env = 0.55 + 0.35 * np.clip(rz * 2.5, -1, 1)
    p4 = ndh * ndh
    p4 *= p4
    p8 = p4 * p4
    p16 = p8 * p8                                                             # powers by squaring: pow() is slow
    rubber = albedo * (a + light * ndl) + 0.08 * light * (p8 * p4)           # ndh^12
    shiny = albedo * (0.35 * a + 0.35 * light * ndl + 0.7 * env * (0.6 + 0.4 * a)) + light * (p16 * p16 * p16 * p8 * p4)  # ndh^60
    colour = np.where(metal, shiny, rubber)
    if scenes.point_light:
        colour = colour + (horizon[b] - colour) * haze[b, 0, pix][:, None]
    out[b, :, pix] = np.clip(colour, 0, 1)
    return out.reshape(bsz, 3, h, w)
