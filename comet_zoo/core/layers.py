"""Small building blocks shared by the energy net and the encoders."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def coord_grid(size: int, device=None, dtype=None) -> torch.Tensor:
    """CoordConv channels: [2, size, size] holding y and x in [-1, 1]."""
    axis = torch.linspace(-1.0, 1.0, size, device=device, dtype=dtype)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([ys, xs])


class ResBlock(nn.Module):
    """Unconditioned residual block (conv-swish-conv-swish) then a 2x downsample."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_in, 3, padding=1)
        self.conv2 = nn.Conv2d(c_in, c_in, 3, padding=1)
        self.down = nn.Conv2d(c_in, c_out, 3, padding=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        r = F.silu(self.conv2(F.silu(self.conv1(h))))
        h = F.silu(self.down(h + r))
        return F.avg_pool2d(h, 3, stride=2, padding=1)
