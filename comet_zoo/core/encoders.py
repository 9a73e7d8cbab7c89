"""Encoders: image [B, 3, H, W] → latents z [B, K, D].

conv (global factors), recurrent (objects, one LSTM step per component) and slot
(objects competing for pixels) are registered in the comet_zoo.encoders entry-point
group and built from a `CometConfig`; a third-party encoder follows the same contract.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import CometConfig
from .layers import ResBlock, coord_grid

GRID = 8  # the recurrent encoder attends over a GRID x GRID feature map


def _trunk(width: int, image_size: int, min_size: int) -> nn.Sequential:
    """Conv stem and residual downsampling blocks until the map is <= 2*min_size."""
    layers: list[nn.Module] = [nn.Conv2d(3, width, 3, padding=1), nn.SiLU()]
    size = image_size
    while size > 2 * min_size:
        layers.append(ResBlock(width, width))
        size = math.ceil(size / 2)
    return nn.Sequential(*layers)


class ConvEncoder(nn.Module):
    """Global encoder: conv trunk, mean pool, MLP to all K latents at once."""

    def __init__(self, config: CometConfig):
        super().__init__()
        w = config.width
        self.k, self.d = config.num_components, config.latent_dim
        self.trunk = _trunk(w, config.image_size, min_size=4)
        self.mlp = nn.Sequential(nn.Linear(w, 2 * w), nn.SiLU(), nn.Linear(2 * w, self.k * self.d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.trunk(x).mean(dim=(2, 3))          # [B, w]
        return self.mlp(h).view(-1, self.k, self.d)  # [B, K, D]


class RecurrentAttentionEncoder(nn.Module):
    """Object encoder: an LSTM emits one latent per step, attending over an 8x8 grid.

    The grid carries CoordConv positional features for components with
    `pos_embed` on; components with it off (global factors) attend over the same
    features without position. The query is the LSTM's previous hidden state.
    """

    def __init__(self, config: CometConfig):
        super().__init__()
        w = config.width
        self.k, self.d = config.num_components, config.latent_dim
        self.trunk = _trunk(w, config.image_size, min_size=GRID)
        self.pos = nn.Linear(2, w)                  # CoordConv: (y, x) → features
        self.key = nn.Linear(w, w)
        self.query = nn.Linear(w, w)
        self.score = nn.Linear(w, 1)
        self.lstm = nn.LSTMCell(w, w)
        self.out = nn.Linear(w, self.d)
        self.register_buffer("coords", coord_grid(GRID).flatten(1).T.contiguous(), persistent=False)  # [64, 2]
        self.pos_embed = list(config.pos_embed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        feat = F.adaptive_avg_pool2d(self.trunk(x), GRID)       # [B, w, 8, 8]
        feat = feat.flatten(2).transpose(1, 2)                   # [B, 64, w]
        plain = feat
        placed = feat + self.pos(self.coords.to(feat.dtype))     # [B, 64, w]
        keys = {False: self.key(plain), True: self.key(placed)}  # [B, 64, w] each
        h = feat.new_zeros(b, feat.shape[-1])
        c = torch.zeros_like(h)
        zs = []
        for k in range(self.k):  # sequential by nature: step k attends given steps < k
            ctx = placed if self.pos_embed[k] else plain
            s = self.score(torch.tanh(keys[self.pos_embed[k]] + self.query(h)[:, None]))  # [B, 64, 1]
            read = (s.softmax(dim=1) * ctx).sum(dim=1)           # [B, w]
            h, c = self.lstm(read, (h, c))
            zs.append(self.out(h))
        return torch.stack(zs, dim=1)                            # [B, K, D]


class SlotAttentionEncoder(nn.Module):
    """Object encoder in which components compete for pixels (iterative slot attention).

    Each object component (pos_embed on) is a slot with its own learned start; for
    `ITERS` rounds every grid cell splits its attention among the slots (a softmax over
    slots, not over cells), and each slot is updated by a GRU from the weighted mean of
    the cells it won. Competition is what the recurrent encoder lacks: there two
    components may read the same object. Components with pos_embed off (global factors:
    light, camera) read the mean-pooled features instead and do not compete.
    """

    ITERS = 3

    def __init__(self, config: CometConfig):
        super().__init__()
        w = config.width
        self.k, self.d = config.num_components, config.latent_dim
        self.local = [k for k in range(self.k) if config.pos_embed[k]]
        self.glob = [k for k in range(self.k) if not config.pos_embed[k]]
        self.trunk = _trunk(w, config.image_size, min_size=GRID)
        self.pos = nn.Linear(2, w)                              # CoordConv: (y, x) → features
        self.norm_in, self.norm_slot, self.norm_mlp = nn.LayerNorm(w), nn.LayerNorm(w), nn.LayerNorm(w)
        self.key, self.value, self.query = nn.Linear(w, w), nn.Linear(w, w), nn.Linear(w, w)
        self.gru = nn.GRUCell(w, w)
        self.mlp = nn.Sequential(nn.Linear(w, 2 * w), nn.SiLU(), nn.Linear(2 * w, w))
        self.start = nn.Parameter(torch.randn(len(self.local), w) * w ** -0.5)  # one learned start per slot
        self.out = nn.Linear(w, self.d)
        self.global_out = nn.Linear(w, self.d * len(self.glob)) if self.glob else None
        self.register_buffer("coords", coord_grid(GRID).flatten(1).T.contiguous(), persistent=False)  # [64, 2]

    def attend(self, feat: torch.Tensor) -> torch.Tensor:
        """feat [B, 64, w] → slots [B, S, w] after ITERS rounds of competition."""
        cells = self.norm_in(feat + self.pos(self.coords.to(feat.dtype)))   # [B, 64, w]
        keys, values = self.key(cells), self.value(cells)
        slots = self.start.expand(feat.shape[0], *self.start.shape)          # [B, S, w]
        scale = feat.shape[-1] ** -0.5
        for _ in range(self.ITERS):
            logits = keys @ self.query(self.norm_slot(slots)).transpose(1, 2) * scale  # [B, 64, S]
            share = logits.softmax(dim=2) + 1e-8                            # cells split among slots
            share = share / share.sum(dim=1, keepdim=True)                  # weighted mean over cells
            updates = share.transpose(1, 2) @ values                        # [B, S, w]
            slots = self.gru(updates.reshape(-1, updates.shape[-1]), slots.reshape(-1, slots.shape[-1]))
            slots = slots.view(feat.shape[0], -1, feat.shape[-1])
            slots = slots + self.mlp(self.norm_mlp(slots))
        return slots

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        feat = F.adaptive_avg_pool2d(self.trunk(x), GRID).flatten(2).transpose(1, 2)  # [B, 64, w]
        z = feat.new_zeros(b, self.k, self.d)
        if self.local:
            z[:, self.local] = self.out(self.attend(feat))                 # [B, S, D]
        if self.glob:
            z[:, self.glob] = self.global_out(feat.mean(dim=1)).view(b, len(self.glob), self.d)
        return z                                                            # [B, K, D]
