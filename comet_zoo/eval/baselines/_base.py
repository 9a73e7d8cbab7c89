"""What a baseline model shares with COMET, so that training and evaluation treat them alike.

    config                          a dataclass with `kind`, `image_size`, `to_dict`, `from_dict`
    infer(x, generator)             x [B, 3, H, W] → latents [B, K, D]
    reconstruct(x, generator)       → [B, 3, H, W] in [0, 1]
    training_loss(x)                → scalar (the Trainer minimises it instead of Algorithm 1)
    save_pretrained(dir) / load(dir, device)   config.json + model.safetensors, strict loading

Persistence is written here rather than through huggingface_hub's mixin: two
files, each written atomically, nothing pickled.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from ..._io import atomic_path
from ...core.config import read_config_json, reject_unknown_keys
from ...core.weights import load_weights
from ...errors import CometError

CONFIG = "config.json"
WEIGHTS = "model.safetensors"


class BaselineConfig:
    """Mixin for baseline config dataclasses: checked construction from a dict, and back."""

    kind = "baseline"

    @classmethod
    def from_dict(cls, data: dict):
        data = dict(data)
        kind = data.pop("kind", cls.kind)
        if kind != cls.kind:
            raise CometError(f"config of kind {kind!r} given to {cls.kind}")
        reject_unknown_keys(cls, data, f"{cls.kind} config keys")
        return cls(**data)

    def to_dict(self) -> dict:
        return {"kind": self.kind, **dataclasses.asdict(self)}

    def check_size(self) -> None:
        if not 8 <= self.image_size <= 256:
            raise CometError(f"{self.kind}: image_size must be in 8..256, got {self.image_size}")


class BaselineModel(nn.Module):
    config_class: type = BaselineConfig

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def save_pretrained(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        with atomic_path(directory / WEIGHTS) as tmp:
            save_file(state, str(tmp), metadata={"format": "pt"})
        with atomic_path(directory / CONFIG) as tmp:
            tmp.write_text(json.dumps(self.config.to_dict(), indent=2) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu"):
        data = read_config_json(directory, CONFIG)
        model = cls(cls.config_class.from_dict(data))
        load_weights(model, Path(directory) / WEIGHTS)
        return model.to(device).eval()
