"""Descent on an energy: x_n = x_{n-1} - λ_n ∇x E(x_{n-1}) (+ noise), from x_0 ~ U(0,1).

One loop serves training (gradients flow through the last `grad_steps` steps
only: truncated back-propagation), generation, and the composer. A sampler is
just a schedule of step sizes and noise levels: `gd` (the paper's), `langevin`
and `anneal`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..errors import CometError
from ._random import normal
from .deadline import check_deadline

EnergyFn = Callable[[torch.Tensor], torch.Tensor]  # x [B, 3, H, W] → energies [B, ...]


def straight_through_clamp(x: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1] in the forward pass, identity in the backward pass.

    A hard clamp zeroes the gradient of every pixel the model pushes out of range,
    which stalls training (e.g. on a black background); this one does not.
    """
    return x + (x.clamp(0.0, 1.0) - x).detach()


@dataclass(frozen=True)
class Schedule:
    """Step size and noise per step, as multiples of the model's λ and of 1."""

    name: str = "gd"
    noise: float = 0.0      # Langevin noise std at the first step
    anneal: bool = False    # decay step size and noise over the steps

    def at(self, n: int, steps: int) -> tuple[float, float]:
        """(step-size factor, noise std) of step n in 0..steps-1."""
        if not self.anneal:
            return 1.0, self.noise
        frac = 1.0 - n / max(steps - 1, 1)  # 1 → 0
        return 0.25 + 0.75 * frac, self.noise * frac


SAMPLERS = {
    "gd": Schedule("gd"),
    "langevin": Schedule("langevin", noise=0.01),
    "anneal": Schedule("anneal", noise=0.02, anneal=True),
}


def get_schedule(name: str) -> Schedule:
    try:
        return SAMPLERS[name]
    except (KeyError, TypeError):  # TypeError: not even a name (a list, None …)
        raise CometError(f"unknown sampler {name!r}; known: {', '.join(SAMPLERS)}") from None


def descend(
    energy_fn: EnergyFn,
    x0: torch.Tensor,
    steps: int,
    step_size: float,
    *,
    grad_steps: int = 0,
    schedule: Schedule = SAMPLERS["gd"],
    generator: torch.Generator | None = None,
    trajectory: list[torch.Tensor] | None = None,
    fast_energy_fn: EnergyFn | None = None,
) -> torch.Tensor:
    """Run `steps` descent steps from x0 [B, 3, H, W]; returns x_N.

    The last `grad_steps` steps keep their double-backward graph so a loss on x_N
    reaches the parameters and latents (training); earlier steps are computed
    with gradients to x only and detached, so their graphs are freed at once.
    `fast_energy_fn` (e.g. a torch.compile'd energy, which cannot be
    differentiated twice) replaces `energy_fn` in those earlier steps.
    """
    x = x0.detach()
    for n in range(steps):
        check_deadline()  # a no-op unless the caller set a deadline (the web demo does)
        keep_graph = n >= steps - grad_steps
        if not x.requires_grad:
            x = x.detach().requires_grad_(True)
        fn = energy_fn if keep_graph or fast_energy_fn is None else fast_energy_fn
        with torch.enable_grad():
            e = fn(x).sum()
            (g,) = torch.autograd.grad(e, x, create_graph=keep_graph)
        factor, noise = schedule.at(n, steps)
        x_next = x - (step_size * factor) * g
        if noise > 0:
            x_next = x_next + noise * normal(x.shape, generator, x.device, x.dtype)
        x = straight_through_clamp(x_next)
        if not keep_graph:
            x = x.detach()
        if trajectory is not None:
            trajectory.append(x.detach())
    return x
