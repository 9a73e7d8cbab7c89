"""The encoder and energy plugin contracts, as typing Protocols.

A plugin registered in `comet_zoo.encoders` or `comet_zoo.energies` is a class (or
factory) called with the model's CometConfig and returning an nn.Module that has
these methods. The composer and the sampler use nothing else, so a module that
satisfies the Protocol (`isinstance(net, EnergyNet)` checks the names) composes
with every other model in the zoo.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class EncoderNet(Protocol):
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, 3, H, W] in [0, 1] → z [B, K, D]: one latent per component."""


@runtime_checkable
class EnergyNet(Protocol):
    # [K] 1.0 where component k sees coordinates (an object), 0.0 where it does not (a
    # global factor such as lighting): the composer passes a subset of it to `evaluate`.
    pos_mask: torch.Tensor

    def condition(self, z: torch.Tensor) -> torch.Tensor:
        """z [B, K, D] → cond [B*K, P]: whatever of z the energy reuses across descent steps
        (FiLM gains and biases here); computed once per generation."""

    def evaluate(self, x: torch.Tensor, cond: torch.Tensor, pos_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, 3, H, W], cond [B*K', P] → energies [B, K'] (K' = cond's rows / B). `pos_mask`
        [K'] overrides `self.pos_mask` when only some components are evaluated."""

    def __call__(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """E(x, z_k) [B, K] = evaluate(x, condition(z))."""
