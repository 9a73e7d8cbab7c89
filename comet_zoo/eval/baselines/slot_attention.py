"""Slot Attention (Locatello et al. 2020): the object-segmentation baseline of Table 1.

    CNN + soft position embedding → N = H·W features [B, N, w]
    K slots from a learned Gaussian; `iterations` rounds of attention where the
    softmax runs over slots (slots compete for each input feature), then a GRU update
    spatial-broadcast decoder per slot → RGB + alpha logit; alphas softmaxed over slots
    reconstruction = Σ_k α_k rgb_k; segmentation = argmax_k α_k

Small and CPU-friendly: 3×3 convs at full resolution, the decoder broadcasts at
S/4 and upsamples twice. Slots are the latents: infer(x) → [B, K, D].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...core._random import normal
from ...core.layers import coord_grid
from ...errors import CometError
from ._base import BaselineConfig, BaselineModel


@dataclass
class SlotAttentionConfig(BaselineConfig):
    kind = "slot-attention"
    image_size: int = 64
    num_components: int = 4   # K slots
    latent_dim: int = 32      # D, the slot size
    width: int = 32           # CNN channels
    iterations: int = 3

    def __post_init__(self):
        self.check_size()
        if self.image_size % 4:
            raise CometError(f"slot-attention: image_size must be a multiple of 4, got {self.image_size}")
        if self.num_components < 1 or self.latent_dim < 2 or self.width < 4 or self.iterations < 1:
            raise CometError("slot-attention: num_components >= 1, latent_dim >= 2, width >= 4, iterations >= 1")


class PositionEmbed(nn.Module):
    """Soft position embedding: a linear map of (y, x, 1−y, 1−x) added to the features."""

    def __init__(self, width: int, size: int):
        super().__init__()
        self.proj = nn.Linear(4, width)
        grid = (coord_grid(size) + 1) / 2                                  # [2, S, S] in [0, 1]
        self.register_buffer("grid", torch.cat([grid, 1 - grid]).permute(1, 2, 0), persistent=False)  # [S, S, 4]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.proj(self.grid).permute(2, 0, 1)                   # h [B, w, S, S]


class SlotAttentionModule(nn.Module):
    def __init__(self, k: int, d: int, width: int, iterations: int):
        super().__init__()
        self.k, self.d, self.iterations = k, d, iterations
        self.mu = nn.Parameter(torch.randn(1, 1, d) * d ** -0.5)
        self.log_sigma = nn.Parameter(torch.zeros(1, 1, d))
        self.norm_in, self.norm_slots, self.norm_mlp = nn.LayerNorm(width), nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k_proj, self.v = nn.Linear(d, d, bias=False), nn.Linear(width, d, bias=False), nn.Linear(width, d, bias=False)
        self.gru = nn.GRUCell(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.ReLU(), nn.Linear(2 * d, d))

    def forward(self, inputs: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """inputs [B, N, w] → (slots [B, K, D], attention [B, K, N])."""
        b = inputs.shape[0]
        inputs = self.norm_in(inputs)
        keys, values = self.k_proj(inputs), self.v(inputs)                 # [B, N, D] each
        noise = normal((b, self.k, self.d), generator, inputs.device, inputs.dtype)
        slots = self.mu + self.log_sigma.exp() * noise                     # [B, K, D]
        for _ in range(self.iterations):
            q = self.q(self.norm_slots(slots))                             # [B, K, D]
            logits = torch.einsum("bkd,bnd->bkn", q, keys) * self.d ** -0.5
            attn = logits.softmax(dim=1) + 1e-8                            # over slots: they compete [B, K, N]
            weights = attn / attn.sum(dim=2, keepdim=True)                 # weighted mean over inputs
            updates = torch.einsum("bkn,bnd->bkd", weights, values)        # [B, K, D]
            slots = self.gru(updates.reshape(-1, self.d), slots.reshape(-1, self.d)).view(b, self.k, self.d)
            slots = slots + self.mlp(self.norm_mlp(slots))
        return slots, attn


class SlotAttention(BaselineModel):
    config_class = SlotAttentionConfig

    def __init__(self, config: SlotAttentionConfig):
        super().__init__()
        if isinstance(config, dict):
            config = SlotAttentionConfig.from_dict(config)
        self.config = config
        w, d, s = config.width, config.latent_dim, config.image_size
        self.cnn = nn.Sequential(nn.Conv2d(3, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, w, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(w, w, 3, padding=1), nn.ReLU())
        self.enc_pos = PositionEmbed(w, s)
        self.enc_mlp = nn.Sequential(nn.Linear(w, w), nn.ReLU(), nn.Linear(w, w))
        self.slot_attention = SlotAttentionModule(config.num_components, d, w, config.iterations)
        self.dec_pos = PositionEmbed(d, s // 4)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(d, w, 4, stride=2, padding=1), nn.ReLU(),   # S/4 → S/2
            nn.ConvTranspose2d(w, w, 4, stride=2, padding=1), nn.ReLU(),   # S/2 → S
            nn.Conv2d(w, 4, 3, padding=1))                                 # RGB + alpha logit

    # -- the model -------------------------------------------------------------
    def infer(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """x [B, 3, S, S] → slots [B, K, D]."""
        h = self.enc_pos(self.cnn(x))                                      # [B, w, S, S]
        h = self.enc_mlp(h.flatten(2).transpose(1, 2))                     # [B, S·S, w]
        return self.slot_attention(h, generator)[0]

    def decode(self, slots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """slots [B, K, D] → (rgb [B, K, 3, S, S], alpha [B, K, 1, S, S] summing to 1 over K)."""
        b, k, d = slots.shape
        s0 = self.config.image_size // 4
        h = slots.reshape(b * k, d, 1, 1).expand(b * k, d, s0, s0)        # spatial broadcast
        out = self.decoder(self.dec_pos(h))                                # [B*K, 4, S, S]
        out = out.view(b, k, 4, *out.shape[-2:])
        return out[:, :, :3], out[:, :, 3:].softmax(dim=1)

    def generate(self, slots: torch.Tensor, **_) -> torch.Tensor:
        rgb, alpha = self.decode(slots)
        return (rgb * alpha).sum(1)                                        # [B, 3, S, S]

    def reconstruct(self, x: torch.Tensor, generator: torch.Generator | None = None, **_) -> torch.Tensor:
        with torch.no_grad():
            return self.generate(self.infer(x, generator)).clamp(0, 1)

    def segment(self, x: torch.Tensor, generator: torch.Generator | None = None,
                slots: torch.Tensor | None = None) -> torch.Tensor:
        """The slot of largest alpha at each pixel: int64 [B, H, W]. Pass the `slots`
        a reconstruction came from to segment that reconstruction (slot init is random)."""
        with torch.no_grad():
            _, alpha = self.decode(self.infer(x, generator) if slots is None else slots)
        return alpha[:, :, 0].argmax(dim=1)

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(self.generate(self.infer(x)), x)
