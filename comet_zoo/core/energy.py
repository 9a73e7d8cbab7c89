"""E(x, z): a ResNet over the image whose residual blocks are FiLM-conditioned on z.

Swish activations and no normalisation layers (as in the paper); the last block is
mean-pooled and mapped to one scalar per (image, component).

All K components of all B images run through the net as one batch of B*K. Three
things are computed once instead of K times: the unconditioned stem conv of x
(the image is shared by its components), the first block's first conv (it sees no
z yet) and the FiLM gains and biases of z (`condition`), which the sampler reuses
across every descent step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import CometConfig
from .layers import coord_grid


class FilmBlock(nn.Module):
    """conv → FiLM → swish, twice, residual; then conv to c_out and a 2x average pool."""

    def __init__(self, c_in: int, c_out: int, film_offset: float = 1.0):
        super().__init__()
        self.c_in = c_in
        self.offset = film_offset
        self.conv1 = nn.Conv2d(c_in, c_in, 3, padding=1)
        self.conv2 = nn.Conv2d(c_in, c_in, 3, padding=1)
        self.down = nn.Conv2d(c_in, c_out, 3, padding=1)
        # The residual branch starts at exactly zero: a stable start without the
        # official code's 1e-5 init, which fills the net with denormals on CPU.
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, h: torch.Tensor, film: torch.Tensor, conv1_h: torch.Tensor | None = None) -> torch.Tensor:
        # h: [N, c_in, S, S]; film: [N, 4*c_in] = gain1, bias1, gain2, bias2;
        # conv1_h: conv1(h) when the caller has it more cheaply (see FilmResNetEnergy.evaluate)
        g1, b1, g2, b2 = film[:, :, None, None].chunk(4, dim=1)
        c1 = self.conv1(h) if conv1_h is None else conv1_h
        r = F.silu(torch.addcmul(b1, self.offset + g1, c1))  # FiLM: (offset + gain) * conv + bias
        r = F.silu(torch.addcmul(b2, self.offset + g2, self.conv2(r)))
        h = F.silu(self.down(h + r))
        return F.avg_pool2d(h, 3, stride=2, padding=1)  # [N, c_out, S/2, S/2]


class FilmResNetEnergy(nn.Module):
    """The paper's energy function. Registered as `resnet-film` in comet_zoo.energies."""

    def __init__(self, config: CometConfig):
        super().__init__()
        w, d = config.width, config.latent_dim
        self.num_components = config.num_components
        self.image_size = config.image_size
        stride = config.stem_stride
        if config.stem == "pool" or stride == 1:
            self.stem = nn.Conv2d(3, w, 3, padding=1)  # full resolution; pooled in `evaluate`
            self.stem_pool = stride
        else:
            self.stem = nn.Conv2d(3, w, 2 * stride, stride=stride, padding=stride // 2)
            self.stem_pool = 1
        self.pos_stem = nn.Conv2d(2, w, 1)
        widths = [w] * config.num_blocks + [2 * w]  # the last block doubles the width
        self.blocks = nn.ModuleList(FilmBlock(a, b, config.film_offset) for a, b in zip(widths[:-1], widths[1:]))
        # One linear map from z to every block's FiLM parameters.
        self.film = nn.Linear(d, sum(4 * b.c_in for b in self.blocks))
        self.head = nn.Linear(2 * w, 1)
        # [K] 1.0 where the component sees CoordConv coordinates.
        self.register_buffer("pos_mask", torch.tensor(config.pos_embed, dtype=torch.float32), persistent=False)

    def condition(self, z: torch.Tensor) -> torch.Tensor:
        """z [B, K, D] → FiLM parameters [B*K, P], reusable across descent steps."""
        b, k, d = z.shape
        return self.film(z.reshape(b * k, d))

    def evaluate(self, x: torch.Tensor, cond: torch.Tensor, pos_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, 3, H, W], cond [B*K, P] from `condition` → energies [B, K].

        `pos_mask` [K] overrides which components see coordinates, for evaluating
        a subset of components (K is read from cond's rows).
        """
        b = x.shape[0]
        k = cond.shape[0] // b
        mask = self.pos_mask if pos_mask is None else pos_mask
        # The conv that sees the image stays in the image's precision under bf16 autocast:
        # in bf16 its weight gradient is 80 % off (the image's fine differences round away).
        with torch.autocast(x.device.type, enabled=False):
            stem = F.silu(self.stem(x))                              # [B, w, S, S], once per image
        if self.stem_pool > 1:                                       # the paper's stem: [B, w, H/s, W/s]
            stem = F.avg_pool2d(stem, 3, stride=self.stem_pool, padding=1)
        coords = coord_grid(stem.shape[-1], device=x.device, dtype=x.dtype)[None]  # CoordConv [1, 2, S, S]
        pos = F.silu(self.pos_stem(coords))                          # [1, w, S, S], no x in it
        m = mask.to(x.dtype)[None, :, None, None, None]              # [1, K, 1, 1, 1]
        h = (stem[:, None] + pos[:, None] * m).reshape(b * k, *stem.shape[1:])  # [B*K, w, S, S]
        # The first block's first conv sees no z: by linearity conv1(stem + m·pos) =
        # conv1(stem) + m·(W * pos), so it runs on B images and one coordinate map instead
        # of B*K rows (the largest conv of the net), and its input gradient is summed once.
        first = self.blocks[0]
        conv_stem = first.conv1(stem)                                # [B, w, S, S]
        conv_pos = F.conv2d(pos, first.conv1.weight, padding=1)      # [1, w, S, S], no bias
        conv1_h = (conv_stem[:, None] + conv_pos[:, None] * m).reshape(b * k, *conv_stem.shape[1:])
        offset = 0
        for i, block in enumerate(self.blocks):
            n = 4 * block.c_in
            h = block(h, cond[:, offset:offset + n], conv1_h if i == 0 else None)
            offset += n
        e = self.head(h.mean(dim=(2, 3)))                            # [B*K, 1]
        return e.view(b, k)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.evaluate(x, self.condition(z))
