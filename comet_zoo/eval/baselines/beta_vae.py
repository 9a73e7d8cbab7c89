"""β-VAE (Higgins et al. 2017): the disentanglement baseline of the paper's Table 3.

A conv encoder gives q(z|x) = N(μ, σ²) over one latent vector; a deconv decoder
gives Bernoulli pixel logits. Loss per image: Σ_pixels BCE(x̂, x) + β KL(q ‖ N(0, I)),
so β > 1 trades reconstruction for a factorised posterior. Its latents are one
vector, reported as K = 1 component: infer(x) → μ [B, 1, D].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import CometError
from ._base import BaselineConfig, BaselineModel


@dataclass
class BetaVAEConfig(BaselineConfig):
    kind = "beta-vae"
    image_size: int = 64
    latent_dim: int = 10      # D; the β-VAE papers use 10 on 64×64 data
    width: int = 32           # channels of every conv layer
    beta: float = 4.0
    hidden: int = 256         # the dense layer between the conv stack and (μ, log σ²)

    def __post_init__(self):
        self.check_size()
        if self.latent_dim < 1 or self.width < 4 or self.hidden < 4 or self.beta < 0:
            raise CometError("beta-vae: latent_dim >= 1, width >= 4, hidden >= 4 and beta >= 0 are required")

    @property
    def num_components(self) -> int:
        return 1


class BetaVAE(BaselineModel):
    config_class = BetaVAEConfig

    def __init__(self, config: BetaVAEConfig):
        super().__init__()
        if isinstance(config, dict):
            config = BetaVAEConfig.from_dict(config)
        self.config = config
        w, s = config.width, config.image_size
        self.levels = max(1, math.ceil(math.log2(s / 4)))  # stride-2 convs down to ~4×4
        self.base = math.ceil(s / 2 ** self.levels)         # side of the smallest map
        down, c = [], 3
        for _ in range(self.levels):
            down += [nn.Conv2d(c, w, 4, stride=2, padding=1), nn.SiLU()]
            c = w
        self.encoder = nn.Sequential(*down)
        flat = w * self.base * self.base
        self.to_stats = nn.Sequential(nn.Flatten(), nn.Linear(flat, config.hidden), nn.SiLU(),
                                      nn.Linear(config.hidden, 2 * config.latent_dim))
        self.from_z = nn.Sequential(nn.Linear(config.latent_dim, config.hidden), nn.SiLU(),
                                    nn.Linear(config.hidden, flat), nn.SiLU())
        up = []
        for i in range(self.levels):
            last = i == self.levels - 1
            up += [nn.ConvTranspose2d(w, 3 if last else w, 4, stride=2, padding=1)]
            up += [] if last else [nn.SiLU()]
        self.decoder = nn.Sequential(*up)

    # -- the model -------------------------------------------------------------
    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, 3, S, S] → (μ, log σ²), each [B, D]."""
        # The input is resized to the side the strides expect (a no-op for powers of two).
        size = self.base * 2 ** self.levels
        if x.shape[-1] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        mu, logvar = self.to_stats(self.encoder(x)).chunk(2, dim=1)
        return mu, logvar.clamp(-10, 10)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """z [B, D] → pixel logits [B, 3, S, S]."""
        w = self.config.width
        h = self.from_z(z).view(-1, w, self.base, self.base)  # [B, w, b, b]
        logits = self.decoder(h)                               # [B, 3, b·2^L, b·2^L]
        s = self.config.image_size
        if logits.shape[-1] != s:
            logits = F.interpolate(logits, size=(s, s), mode="bilinear", align_corners=False)
        return logits

    def infer(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The posterior mean as one component: [B, 1, D]."""
        return self.posterior(x)[0][:, None]

    def generate(self, z: torch.Tensor, **_) -> torch.Tensor:
        """z [B, 1, D] → images [B, 3, S, S] in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z[:, 0]))

    def reconstruct(self, x: torch.Tensor, generator: torch.Generator | None = None, **_) -> torch.Tensor:
        with torch.no_grad():
            return self.generate(self.infer(x))

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of Σ_pixels BCE + β·KL (the ELBO with a weighted KL)."""
        mu, logvar = self.posterior(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()   # reparameterisation [B, D]
        recon = F.binary_cross_entropy_with_logits(self.decode_logits(z), x, reduction="sum") / len(x)
        kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1).mean()
        return recon + self.config.beta * kl
