"""Model configuration as data: a dataclass that round-trips through config.json."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CometError


def reject_unknown_keys(datacls, data: dict, what: str) -> None:
    """One error naming every key of `data` that dataclass `datacls` has no field for."""
    unknown = sorted(set(data) - {f.name for f in dataclasses.fields(datacls)})
    if unknown:
        raise CometError(f"unknown {what}: {', '.join(unknown)}")


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

    def __post_init__(self):
        if not self.pos_embed:
            self.pos_embed = [False] * self.num_components
        self.pos_embed = [bool(p) for p in self.pos_embed]
        self.validate()

    def validate(self) -> None:
        if not 8 <= self.image_size <= 256:
            raise CometError(f"image_size must be in 8..256, got {self.image_size}")
        if self.num_components < 1:
            raise CometError(f"num_components must be >= 1, got {self.num_components}")
        if self.latent_dim < 1 or self.width < 4 or self.num_blocks < 1:
            raise CometError("latent_dim >= 1, width >= 4 and num_blocks >= 1 are required")
        if len(self.pos_embed) != self.num_components:
            raise CometError(
                f"pos_embed has {len(self.pos_embed)} entries for {self.num_components} components")
        if self.stem_stride not in (1, 2, 4):
            raise CometError(f"stem_stride must be 1, 2 or 4, got {self.stem_stride}")
        if self.stem not in ("conv", "pool"):
            raise CometError(f"stem must be 'conv' or 'pool', got {self.stem!r}")
        if self.steps < 1 or self.step_size <= 0:
            raise CometError("steps >= 1 and step_size > 0 are required")

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
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CometError(f"{path}: invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CometError(f"{path}: expected a JSON object")
    return data
