"""Model configuration as data: a dataclass that round-trips through config.json."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .._io import MAX_CONFIG_BYTES, read_text
from ..errors import CometError, CometRuntimeError


def reject_unknown_keys(datacls, data: dict, what: str) -> None:
    """One error naming every key of `data` that dataclass `datacls` has no field for."""
    unknown = sorted(set(data) - {f.name for f in dataclasses.fields(datacls)})
    if unknown:
        raise CometError(f"unknown {what}: {', '.join(unknown)}")


_KINDS = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "dict": (dict,)}
_WORDS = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false", "dict": "an object"}


def check_field_types(obj, prefix: str) -> None:
    """One clear error for the first field of dataclass `obj` whose value has the wrong
    JSON type ("lr": "0.001", width: 8.5, steps: null, pos_embed: 7): configs come from
    JSON and YAML files, where a typo would otherwise surface as a traceback deep inside."""
    for f in dataclasses.fields(obj):
        value, kind = getattr(obj, f.name), str(f.type).replace(" ", "")
        optional = kind.endswith("|None")
        kind = kind.removesuffix("|None")
        if value is None and optional:
            continue
        if kind.startswith("list["):
            item = kind[5:-1]
            ok = isinstance(value, list) and all(isinstance(v, _KINDS[item]) for v in value)
            word = f"a list of {_WORDS[item].split(' ', 1)[-1]}s" if item != "bool" else "a list of true/false"
        else:
            ok = isinstance(value, _KINDS[kind]) and (kind == "bool" or not isinstance(value, bool))
            word = _WORDS[kind]
        if ok and kind == "float" and not math.isfinite(value):
            ok, word = False, "a finite number"
        if not ok:
            raise CometError(f"{prefix}{f.name} must be {word}, got {value!r}")


@dataclass
class CometConfig:
    image_size: int = 64        # native H = W of the energy net
    num_components: int = 4     # K
    latent_dim: int = 64        # D
    width: int = 64             # channels of the energy ResNet (and encoder)
    num_blocks: int = 3         # FiLM residual blocks, each halves the resolution
    # How the energy net's stem reaches the first FiLM block's resolution H / stem_stride:
    #   "pool": a 3x3 conv at full resolution, swish, then a 3x3 average pool of stride
    #           stem_stride; stem_stride 2 is the paper's net (its first block runs at H/2);
    #   "conv": one strided conv (4x4 at stride 2), the zoo's v1-v4 models.
    # The average pool's input gradient is smooth; the strided conv's draws a period-2
    # checkerboard into composed images.
    stem: str = "conv"
    stem_stride: int = 1        # 1 = first FiLM block at full resolution (4x the FLOPs of 2)
    film_offset: float = 1.0    # FiLM gain = offset + linear(z); 0.0 as in the official code
    encoder: str = "conv"       # entry point in comet_zoo.encoders
    energy: str = "resnet-film" # entry point in comet_zoo.energies
    # Per component: feed CoordConv coordinates to the energy and encoder.
    # True for an object component, False for a global one (lighting, camera).
    pos_embed: list[bool] = field(default_factory=list)
    steps: int = 10             # N unrolled descent steps
    step_size: float = 1000.0   # λ
    # Inference: Adam steps on the encoder's z towards reconstructing the image
    # (core/refine.py); 0 = the encoder's guess as it is. Training never refines.
    refine_steps: int = 0
    refine_lr: float = 0.01

    def __post_init__(self):
        if isinstance(self.pos_embed, list) and all(p in (0, 1) for p in self.pos_embed):
            self.pos_embed = [bool(p) for p in self.pos_embed]    # 0/1 read as false/true
        check_field_types(self, "model.")
        if not self.pos_embed:
            self.pos_embed = [False] * self.num_components
        self.validate()

    def validate(self) -> None:
        # Bounds well above any sensible model, checked before anything is allocated
        # (width 1e5 would ask for hundreds of GB).
        if not 8 <= self.image_size <= 256:
            raise CometError(f"image_size must be in 8..256, got {self.image_size}")
        if not 1 <= self.num_components <= 64:
            raise CometError(f"num_components must be in 1..64, got {self.num_components}")
        if not (1 <= self.latent_dim <= 4096 and 4 <= self.width <= 1024 and 1 <= self.num_blocks <= 8):
            raise CometError(f"latent_dim must be in 1..4096, width in 4..1024 and num_blocks in 1..8; got "
                             f"{self.latent_dim}, {self.width}, {self.num_blocks}")
        if len(self.pos_embed) != self.num_components:
            raise CometError(
                f"pos_embed has {len(self.pos_embed)} entries for {self.num_components} components")
        if self.stem_stride not in (1, 2, 4):
            raise CometError(f"stem_stride must be 1, 2 or 4, got {self.stem_stride}")
        if self.stem not in ("conv", "pool"):
            raise CometError(f"stem must be 'conv' or 'pool', got {self.stem!r}")
        if not 1 <= self.steps <= 1000 or not 0 < self.step_size < float("inf"):
            raise CometError(f"steps must be in 1..1000 and step_size a finite number > 0; got {self.steps}, "
                             f"{self.step_size}")
        if not 0 <= self.refine_steps <= 10000 or not 0 < self.refine_lr <= 10:
            raise CometError(f"refine_steps must be in 0..10000 and refine_lr in (0, 10]; got {self.refine_steps}, "
                             f"{self.refine_lr}")

    @classmethod
    def from_dict(cls, data: dict) -> "CometConfig":
        reject_unknown_keys(cls, data, "model config keys")
        return cls(**data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def read_config_json(directory: str | Path, name: str = "config.json") -> dict:
    """A model folder's config.json as a dict, with one clear error per problem."""
    path = Path(directory) / name
    if not path.is_file():
        raise CometError(f"{directory}: no {name}")
    try:   # a regular file of at most 1 MiB, inside the folder (not a FIFO, a device or a link out)
        data = json.loads(read_text(path, MAX_CONFIG_BYTES, inside=directory))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CometError(f"{path}: invalid JSON ({exc})") from None
    except OSError as exc:
        raise CometRuntimeError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise CometError(f"{path}: expected a JSON object")
    return data
