"""The unrolled-descent loss has the gradient finite differences say it has (float64)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from comet_zoo.core.model import COMET
from comet_zoo.core.sampler import descend
from conftest import tiny_config


def _setup():
    torch.manual_seed(0)
    model = COMET(tiny_config(image_size=8, width=4, num_blocks=1, steps=3, step_size=0.5)).double()
    # Non-zero residual weights, so every parameter path is exercised.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64) * 0.5 + 0.25
    x0 = torch.rand(2, 3, 8, 8, dtype=torch.float64) * 0.5 + 0.25  # well inside [0, 1]: the clamp is inactive
    return model, x, x0


def _loss(model, x, x0, grad_steps):
    z = model.infer(x)
    x_n = model.generate(z, x0=x0, grad_steps=grad_steps)
    return F.mse_loss(x_n, x)


def test_full_unroll_gradient_matches_finite_differences():
    model, x, x0 = _setup()
    param = model.energy_net.blocks[0].conv1.weight
    loss = _loss(model, x, x0, grad_steps=3)
    (analytic,) = torch.autograd.grad(loss, param)
    eps = 1e-6
    for idx in [(0, 0, 1, 1), (2, 3, 0, 2), (1, 2, 2, 0)]:
        with torch.no_grad():
            param[idx] += eps
            up = _loss(model, x, x0, 3).item()
            param[idx] -= 2 * eps
            down = _loss(model, x, x0, 3).item()
            param[idx] += eps
        numeric = (up - down) / (2 * eps)
        assert abs(numeric - analytic[idx].item()) <= 1e-6 + 1e-4 * abs(numeric), (idx, numeric, analytic[idx])
    assert analytic.abs().sum() > 0


def test_truncated_gradient_is_the_gradient_of_the_last_step():
    """grad_steps=1 back-propagates through the final step only, with x_{N-1} held fixed."""
    model, x, x0 = _setup()
    param = model.energy_net.film.weight
    (truncated,) = torch.autograd.grad(_loss(model, x, x0, grad_steps=1), param)

    z = model.infer(x)
    with torch.no_grad():
        x_prev = model.generate(z, x0=x0, steps=2)  # x_{N-1}, a constant
    def last_step_loss():
        x_n = descend(model.energy_fn(model.infer(x)), x_prev, steps=1, step_size=0.5, grad_steps=1)
        return F.mse_loss(x_n, x)
    (expected,) = torch.autograd.grad(last_step_loss(), param)
    assert torch.allclose(truncated, expected, atol=1e-12, rtol=1e-9)
    (full,) = torch.autograd.grad(_loss(model, x, x0, grad_steps=3), param)
    assert not torch.allclose(truncated, full)  # truncation is a real approximation


def test_batched_components_equal_one_at_a_time():
    """One [B*K] call gives the same energies as evaluating each component alone."""
    model, x, _ = _setup()
    z = model.infer(x)
    together = model.energy(x, z)
    net = model.energy_net
    for k in range(z.shape[1]):
        alone = net.evaluate(x, net.condition(z[:, k:k + 1]), pos_mask=net.pos_mask[k:k + 1])
        assert torch.allclose(alone[:, 0], together[:, k], atol=1e-12)
