"""Scene descriptions: the plain-dict format every rendered dataset reads and writes.

A description is JSON-ready (lists, numbers, strings) so that it can be stored,
edited and recombined by hand, then rendered again with `dataset.render([...])`:

    {
      "camera": {"position": [x, y, z], "look_at": [x, y, z], "fov": 40.0},
      "light":  {"type": "directional", "azimuth": deg, "elevation": deg,
                 "intensity": 1.0, "hue": 0.1, "saturation": 0.1, "ambient": 0.45}
             or {"type": "point", "position": [x, y, z], "intensity": 1.0, "reference": 6.0,
                 "ambient": 0.3},
      "ground": [r, g, b],
      "objects": [
        {"shape": "cube", "size": "large", "material": "metal", "colour": "red",
         "rgb": [r, g, b], "position": [x, y, z], "rotation": deg, "extent": [ex, ey, ez],
         "backdrop": false, "shadow": true},
        ...
      ]
    }

Object i of `objects` is label i + 1 of the scene's mask; a `backdrop` object
(a wall, a piece of furniture) is labelled 0, and one with `"shadow": false`
casts no shadow (a wall that encloses the light). `rgb` and `extent` are
what the renderer uses; the names (`size`, `colour`) are the attributes a metric
reads. Swapping whole entries recombines scenes, e.g. the objects of scene A under
the light of scene B: `{**a, "light": b["light"]}`.
"""

from __future__ import annotations

import colorsys
import math

import numpy as np

from ..errors import CometError
from .raycast import SHAPES
from .render import SceneArrays

# The 8 CLEVR colours (GUIDE §1), then the colours of clevr-toy, as sRGB in [0, 1].
CLEVR_COLOURS = {
    "gray": (87, 87, 87), "red": (173, 35, 35), "blue": (42, 75, 215), "green": (29, 105, 20),
    "brown": (129, 74, 25), "purple": (129, 38, 192), "cyan": (41, 208, 208), "yellow": (255, 238, 51),
}
TOY_COLOURS = {
    "orange": (240, 130, 20), "pink": (235, 110, 170), "lime": (150, 220, 40), "teal": (20, 128, 128),
    "navy": (30, 40, 120), "white": (225, 225, 220), "maroon": (110, 20, 40), "olive": (128, 128, 30),
}
COLOURS = {k: tuple(c / 255 for c in v) for k, v in {**CLEVR_COLOURS, **TOY_COLOURS}.items()}


def light_direction(azimuth: float, elevation: float) -> list[float]:
    """Unit vector towards a light at `azimuth`, `elevation` degrees."""
    az, el = math.radians(azimuth), math.radians(elevation)
    return [math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)]


def light_colour(light: dict) -> list[float]:
    """RGB × intensity of a light description (hue/saturation default to white)."""
    rgb = colorsys.hsv_to_rgb(light.get("hue", 0.0) % 1.0, light.get("saturation", 0.0), 1.0)
    return [c * light["intensity"] for c in rgb]


def _vec(value, what: str, n: int = 3) -> list[float]:
    try:
        out = [float(v) for v in value]
    except (TypeError, ValueError):
        out = []
    if len(out) != n or not all(math.isfinite(v) for v in out):
        raise CometError(f"scene description: {what} must be {n} finite numbers, got {value!r}")
    return out


def pack(descriptions: list[dict]) -> SceneArrays:
    """Descriptions → the renderer's arrays, checking every field a user may get wrong."""
    if not isinstance(descriptions, (list, tuple)) or not descriptions:
        raise CometError("render needs a non-empty list of scene descriptions")
    b = len(descriptions)
    m = max(1, max(len(d.get("objects", [])) if isinstance(d, dict) else 0 for d in descriptions))
    f32 = np.float32
    arr = SceneArrays(
        cam_pos=np.zeros((b, 3), f32), look_at=np.zeros((b, 3), f32), fov=np.zeros(b, f32),
        light=np.zeros((b, 3), f32), light_colour=np.zeros((b, 3), f32), ambient=np.zeros((b, 3), f32),
        ground=np.zeros((b, 3), f32), active=np.zeros((b, m), bool), shape=np.zeros((b, m), np.int64),
        centre=np.zeros((b, m, 3), f32), extent=np.ones((b, m, 3), f32), angle=np.zeros((b, m), f32),
        colour=np.zeros((b, m, 3), f32), metal=np.zeros((b, m), bool), backdrop=np.zeros((b, m), bool),
        shadowless=np.zeros((b, m), bool))
    kinds = set()
    for i, desc in enumerate(descriptions):
        try:
            cam, light, objects = desc["camera"], desc["light"], desc.get("objects", [])
            arr.cam_pos[i] = _vec(cam["position"], "camera.position")
            arr.look_at[i] = _vec(cam.get("look_at", [0, 0, 0]), "camera.look_at")
            arr.fov[i] = float(cam.get("fov", 40.0))
            kind = light.get("type", "directional")
            kinds.add(kind)
            if kind == "point":
                arr.light[i] = _vec(light["position"], "light.position")
            elif kind == "directional":
                arr.light[i] = light_direction(float(light["azimuth"]), float(light["elevation"]))
            else:
                raise CometError(f"scene description: light.type must be directional or point, got {kind!r}")
            # a point light's intensity is its brightness at distance `reference` (falloff 1/d²)
            arr.light_colour[i] = np.multiply(light_colour(light), float(light.get("reference", 1.0)) ** 2 if kind == "point" else 1.0)
            arr.ambient[i] = float(light.get("ambient", 0.45))
            arr.ground[i] = _vec(desc.get("ground", [0.5, 0.5, 0.5]), "ground")
            for j, obj in enumerate(objects):
                shape = obj["shape"]
                if shape not in SHAPES:
                    raise CometError(f"scene description: unknown shape {shape!r}; known: {', '.join(SHAPES)}")
                rgb = obj.get("rgb")
                if rgb is None:
                    if obj.get("colour") not in COLOURS:
                        raise CometError(f"scene description: object needs 'rgb' or a known colour name, got {obj.get('colour')!r}")
                    rgb = COLOURS[obj["colour"]]
                arr.active[i, j] = True
                arr.shape[i, j] = SHAPES.index(shape)
                arr.centre[i, j] = _vec(obj["position"], "object position")
                arr.extent[i, j] = _vec(obj["extent"], "object extent")
                arr.angle[i, j] = math.radians(float(obj.get("rotation", 0.0)))
                arr.colour[i, j] = _vec(rgb, "object rgb")
                arr.metal[i, j] = obj.get("material", "rubber") == "metal"
                arr.backdrop[i, j] = bool(obj.get("backdrop", False))
                arr.shadowless[i, j] = not obj.get("shadow", True)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CometError(f"scene description {i}: missing or invalid field {exc}") from None
    if len(kinds) > 1:
        raise CometError("one render call takes scenes with one kind of light (directional or point)")
    if (arr.extent <= 0).any() or not (0 < arr.fov).all() or not (arr.fov < 170).all():
        raise CometError("scene description: extents must be > 0 and fov in (0, 170) degrees")
    arr.point_light = kinds == {"point"}
    return arr
