"""Random tensors drawn on the generator's device, then moved to where they are used.

A CPU generator can drive a GPU run this way (torch refuses a generator of another
device), and the same seed gives the same draws on the CPU and on a GPU.
"""

from __future__ import annotations

import torch


def _draw(fn, shape, generator, device, dtype) -> torch.Tensor:
    drawn_on = generator.device if generator is not None else device
    return fn(*shape, generator=generator, device=drawn_on, dtype=dtype).to(device)


def uniform(shape: tuple[int, ...], generator: torch.Generator | None, device, dtype=torch.float32) -> torch.Tensor:
    """U(0, 1) of `shape` on `device`."""
    return _draw(torch.rand, shape, generator, device, dtype)


def normal(shape: tuple[int, ...], generator: torch.Generator | None, device, dtype=torch.float32) -> torch.Tensor:
    """N(0, 1) of `shape` on `device`."""
    return _draw(torch.randn, shape, generator, device, dtype)
