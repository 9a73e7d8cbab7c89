"""`--device auto|cpu|cuda[:N]` → a torch.device, with a clear error for bad input."""

from __future__ import annotations

import torch

from ..errors import CometError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise CometError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None
    if device.type not in ("cpu", "cuda"):
        raise CometError(f"unsupported device {name!r}; use auto, cpu or cuda[:N]")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CometError("CUDA was requested but no GPU is available")
    return device
