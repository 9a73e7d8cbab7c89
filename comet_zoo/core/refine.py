"""Latent refinement: start from the encoder's guess z, then take gradient steps on z
that bring the model's own reconstruction closer to the image.

    refine_latents(model, x, z, steps, lr) → z' [B, K, D]

The encoder is amortised: one forward pass guesses z for any image, and on the zoo's
models that guess leaves error the energy could still remove. Here z alone is
optimised (Adam) on ‖generate(z) − x‖², back-propagating through all N descent steps;
the model's weights are fixed. Each step descends from a fresh x_0, so z does not fit
one starting image. Measured on clevr v6 (128 renders, seed 1234, lr 0.01): reconstruction
MSE 0.00166 → 0.00118 and fg-ARI 0.821 → 0.860 after 40 steps, no further after 100
(docs/latent_refinement.md).

Deterministic and batch-independent: the x_0 of each step is one image drawn from a
generator seeded with `seed` and shared by the whole batch, each image's loss is summed
(not averaged over the batch) and Adam is elementwise, so an image gets the same z alone
(the composer's exemplar) as in a batch of 500 (`comet eval`).
"""

from __future__ import annotations

import torch

from ..errors import CometError
from .deadline import check_deadline


def refine_latents(model, x: torch.Tensor, z: torch.Tensor, steps: int, lr: float, seed: int = 0) -> torch.Tensor:
    """`steps` Adam steps on z [B, K, D] (detached; the result too) towards reconstructing x [B, 3, H, W]."""
    if steps < 0 or not lr > 0:
        raise CometError(f"latent refinement needs steps >= 0 and lr > 0, got {steps}, {lr}")
    if steps == 0:
        return z
    generator = torch.Generator().manual_seed(seed)        # a CPU generator: the same draws on any device
    z = z.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    target = x.detach().to(z.dtype)
    with torch.enable_grad():
        for _ in range(steps):
            check_deadline()  # a no-op unless the caller set a deadline (the web demo does)
            x0 = model.initial_image(1, generator).repeat(len(x), 1, 1, 1)         # [B, 3, H, W], one draw
            recon = model.generate(z, x0=x0, grad_steps=model.config.steps)          # graph through all N steps
            loss = (recon - target).pow(2).flatten(1).mean(1).sum()                 # Σ_b MSE_b
            (z.grad,) = torch.autograd.grad(loss, z)                                # z only, not the weights
            optimizer.step()
    return z.detach()
