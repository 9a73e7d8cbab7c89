"""Segmentation from a COMET model, as in the paper: each pixel goes to the
component whose energy E(x, z_k) is most sensitive to it at the reconstruction.

    gradient_maps(model, x, recon)          → |∇x E(x_recon, z_k)| summed over channels [B, K, H, W]
    gradient_segmentation(model, x, recon)  → component index per pixel [B, H, W]

All K gradients come from one backward pass. The energy net shares one image
among its K components, so a plain backward of Σ_k E_k would mix them; instead
each component gets its own copy of the image (a [B*K] batch, the trick of
summing per-component energies over a K-expanded x), which costs one training
step's forward and backward — 3x faster than K backward passes at K = 5. An
energy plugin without `condition`/`evaluate(..., pos_mask)` falls back to a
batched vector-Jacobian product (`is_grads_batched`), as slow as K backwards.
"""

from __future__ import annotations

import torch

from ..architectures import kind_of
from ..errors import CometError


def gradient_maps(model, x: torch.Tensor, recon: torch.Tensor | None = None,
                  z: torch.Tensor | None = None, chunk: int = 32) -> torch.Tensor:
    """|∇x E(x̂, z_k)| per component, summed over colour channels: [B, K, H, W].

    x [B, 3, H, W] is the observed image (z is inferred from it unless given);
    x̂ = recon, the model's reconstruction (computed here when None), is where
    the gradient is taken, as in the paper. Images go through `chunk` at a time,
    so memory stays that of one chunk × K.
    """
    if chunk < 1:
        raise CometError(f"segmentation chunk must be >= 1, got {chunk}")
    if len(x) > chunk:
        parts = [gradient_maps(model, x[i:i + chunk], None if recon is None else recon[i:i + chunk],
                               None if z is None else z[i:i + chunk], chunk) for i in range(0, len(x), chunk)]
        return torch.cat(parts)
    if x.dim() != 4 or x.shape[1] != 3:
        raise CometError(f"segmentation: images must be [B, 3, H, W]; got {tuple(x.shape)}")
    size = model.config.image_size
    if x.shape[-2:] != (size, size):
        raise CometError(f"segmentation: the model takes {size}×{size} images; got {x.shape[-2]}×{x.shape[-1]} (resize first)")
    with torch.no_grad():
        if z is None:
            z = model.infer(x)                              # [B, K, D]
    if recon is None:
        recon = model.generate(z).detach()                  # [B, 3, H, W]
    elif recon.shape != x.shape:
        raise CometError(f"segmentation: reconstruction {tuple(recon.shape)} does not match images {tuple(x.shape)}")
    with torch.enable_grad():
        net = model.energy_net
        if hasattr(net, "condition") and hasattr(net, "evaluate") and hasattr(net, "pos_mask"):
            grads = _expanded_gradients(net, recon.detach(), z.detach())
        else:
            grads = _batched_vjp_gradients(model, recon.detach(), z.detach())
    return grads.abs().sum(2)                               # [B, K, H, W]


def _expanded_gradients(net, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """∇x E(x, z_k) [B, K, 3, H, W] with one copy of x per component.

    Components are grouped by their CoordConv flag (the net's pos_mask), since
    one evaluate call applies one flag to every row.
    """
    b, k = z.shape[:2]
    grads = torch.empty(b, k, *x.shape[1:], dtype=x.dtype, device=x.device)
    flags = net.pos_mask
    for flag in flags.unique():
        idx = (flags == flag).nonzero()[:, 0]               # components sharing this flag
        kg = len(idx)
        copies = x[:, None].expand(b, kg, *x.shape[1:]).reshape(b * kg, *x.shape[1:])  # [B*Kg, 3, H, W], b outer
        copies = copies.clone().requires_grad_(True)
        # Rows of condition(z[:, idx]) are [B*Kg] with b outer, matching the copies;
        # with one component per row, each row's energy depends on its own copy only.
        energy = net.evaluate(copies, net.condition(z[:, idx]), pos_mask=flag.reshape(1))  # [B*Kg, 1]
        (g,) = torch.autograd.grad(energy.sum(), copies)
        grads[:, idx] = g.view(b, kg, *x.shape[1:])
    return grads


def _batched_vjp_gradients(model, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """∇x E(x, z_k) [B, K, 3, H, W] through any energy(x, z) -> [B, K]."""
    k = z.shape[1]
    xr = x.clone().requires_grad_(True)
    energy = model.energy(xr, z)                            # [B, K]
    # Direction k of the batched backward selects E(., z_k) of every image.
    directions = torch.eye(k, dtype=energy.dtype, device=energy.device)[:, None, :].expand(k, *energy.shape)  # [K, B, K]
    (grads,) = torch.autograd.grad(energy, xr, grad_outputs=directions, is_grads_batched=True)  # [K, B, 3, H, W]
    return grads.transpose(0, 1)


def gradient_segmentation(model, x: torch.Tensor, recon: torch.Tensor | None = None, *,
                          threshold: float | None = None, background: int = -1, chunk: int = 32) -> torch.Tensor:
    """Component index (0..K−1) of the strongest |∇x E_k| at each pixel: int64 [B, H, W].

    threshold: optional fraction of each image's largest gradient magnitude; a
    pixel whose strongest component falls below it is labelled `background`
    (default −1) — the paper's thresholding. None assigns every pixel.
    """
    maps = gradient_maps(model, x, recon, chunk=chunk)      # [B, K, H, W]
    strength, masks = maps.max(dim=1)                       # [B, H, W] each
    if threshold is not None:
        if not 0 <= threshold < 1:
            raise CometError(f"segmentation threshold must be in [0, 1), got {threshold}")
        peak = strength.flatten(1).max(dim=1).values[:, None, None]  # [B, 1, 1]
        masks = torch.where(strength < threshold * peak, torch.full_like(masks, background), masks)
    return masks


def segment(model, x, recon=None, latents=None, generator=None, threshold: float | None = None):
    """Per-pixel component index int64 [B, H, W] of images x (at `recon`, their
    reconstruction from `latents`, when given); None for a model that does not segment.
    `threshold` (COMET only): pixels whose strongest gradient is below this fraction of
    the image's largest are background (label −1), the paper's thresholding."""
    if kind_of(model) == "comet":
        return gradient_segmentation(model, x, recon, threshold=threshold)
    if hasattr(model, "segment"):
        return model.segment(x, generator, latents)
    return None
