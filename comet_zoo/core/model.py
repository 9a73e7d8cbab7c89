"""COMET = an encoder (image → K latents) + an energy E(x, z_k) per component.

    infer(x)          x [B, 3, H, W] → z [B, K, D] (the encoder's, refined by config.refine_steps)
    energy(x, z)      → [B, K]
    generate(z)       descent on Σ_k w_k E(x, z_k) from x_0 ~ U(0, 1) → [B, 3, H, W]
    reconstruct(x)    generate(infer(x))

Saved as model.safetensors + config.json through huggingface_hub's
PyTorchModelHubMixin; loading reads safetensors only and is strict.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from huggingface_hub import PyTorchModelHubMixin, constants, hf_hub_download
from torch import nn

from .. import registry
from ..errors import CometError
from ._random import uniform
from .config import CometConfig, read_config_json
from .refine import refine_latents
from .sampler import SAMPLERS, Schedule, descend
from .weights import load_weights


class COMET(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="comet-zoo",
    tags=["comet", "energy-based-model", "unsupervised-decomposition"],
    paper_url="https://arxiv.org/abs/2111.03042",
):
    def __init__(self, config: CometConfig, *, encoder_net: nn.Module | None = None,
                 energy_net: nn.Module | None = None):
        """The encoder and energy default to the plugins the config names (`comet_zoo.registry`);
        pass modules to build a COMET from parts without any plugin lookup. (Not `encoder=`:
        the hub mixin passes config.json's keys, which include `encoder`, as arguments.)"""
        super().__init__()
        if isinstance(config, dict):
            config = CometConfig.from_dict(config)
        self.config = config
        self.encoder = encoder_net if encoder_net is not None else registry.load("encoders", config.encoder)(config)
        self.energy_net = energy_net if energy_net is not None else registry.load("energies", config.energy)(config)

    # -- the model -------------------------------------------------------------
    def infer(self, x: torch.Tensor, refine: int | None = None) -> torch.Tensor:
        """x [B, 3, H, W] in [0, 1] → z [B, K, D]: the encoder's guess, then `refine` steps
        of latent refinement (default config.refine_steps; core/refine.py). With refinement
        the result is detached from the encoder; training calls infer(x, refine=0)."""
        z = self.encoder(x)
        steps = self.config.refine_steps if refine is None else refine
        return refine_latents(self, x, z, steps, self.config.refine_lr)   # z itself at 0 steps

    def energy(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """x [B, 3, H, W], z [B, K, D] → E(x, z_k) [B, K]."""
        return self.energy_net(x, z)

    def energy_fn(self, z: torch.Tensor, weights: torch.Tensor | None = None, evaluate=None):
        """x ↦ w_k E(x, z_k) [B, K], with z's FiLM parameters computed once."""
        cond = self.energy_net.condition(z)
        evaluate = evaluate or self.energy_net.evaluate
        if weights is None:
            return lambda x: evaluate(x, cond)
        w = weights.to(z.dtype).reshape(1, -1) if weights.dim() == 1 else weights  # [1|B, K]
        return lambda x: evaluate(x, cond) * w

    def compile(self) -> "COMET":
        """torch.compile the energy for the descent steps that need no double backward.

        Compiled graphs cannot be differentiated twice, so the steps that carry
        the training graph stay eager; every other step (all of generation, and
        N - grad_steps of the N training steps) runs compiled.
        """
        self._compiled_evaluate = torch.compile(self.energy_net.evaluate, dynamic=False)
        return self

    def initial_image(self, batch: int, generator: torch.Generator | None = None, size: int | None = None) -> torch.Tensor:
        """x_0 ~ U(0, 1): [batch, 3, S, S] on the model's device.

        Drawn on the generator's device, so a CPU generator gives the same x_0
        whether the model runs on the CPU or a GPU.
        """
        s = size or self.config.image_size
        p = next(self.parameters())
        return uniform((batch, 3, s, s), generator, p.device, p.dtype)

    def generate(
        self,
        z: torch.Tensor,
        *,
        steps: int | None = None,
        step_size: float | None = None,
        weights: torch.Tensor | None = None,
        x0: torch.Tensor | None = None,
        grad_steps: int = 0,
        schedule: Schedule = SAMPLERS["gd"],
        generator: torch.Generator | None = None,
        trajectory: list[torch.Tensor] | None = None,
        bf16_free_steps: bool = False,
    ) -> torch.Tensor:
        """Descent on Σ_k w_k E(x, z_k); `grad_steps` > 0 keeps the last steps' graph for training.
        `bf16_free_steps`: the steps that keep no graph run under bf16 autocast (their results
        are detached at once, so every gradient to the weights and latents stays fp32)."""
        if x0 is None:
            x0 = self.initial_image(z.shape[0], generator)
        compiled = getattr(self, "_compiled_evaluate", None)
        fast = self.energy_fn(z, weights, compiled) if compiled else None
        if bf16_free_steps:
            fast = _under_bf16(fast or self.energy_fn(z, weights))
        return descend(
            self.energy_fn(z, weights), x0,
            steps or self.config.steps, step_size or self.config.step_size,
            grad_steps=grad_steps, schedule=schedule, generator=generator, trajectory=trajectory,
            fast_energy_fn=fast,
        )

    def reconstruct(self, x: torch.Tensor, generator: torch.Generator | None = None, **kwargs) -> torch.Tensor:
        with torch.no_grad():
            z = self.infer(x)
        return self.generate(z, generator=generator, **kwargs).detach()

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- persistence -----------------------------------------------------------
    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None = None,
        cache_dir=None,
        force_download: bool = False,
        local_files_only: bool = False,
        token=None,
        map_location: str = "cpu",
        strict: bool = True,
        **model_kwargs,
    ) -> "COMET":
        """Safetensors only, strictly: the mixin's pickle fallback is never taken."""
        if not strict:
            raise CometError("comet-zoo loads weights strictly; strict=False is not supported")
        if "config" not in model_kwargs:
            raise CometError(f"{model_id}: config.json is missing")
        if os.path.isdir(model_id):
            weights = Path(model_id) / constants.SAFETENSORS_SINGLE_FILE
            if not weights.is_file():
                others = sorted(p.name for p in Path(model_id).iterdir() if p.suffix in {".bin", ".pt", ".pth", ".pkl", ".ckpt"})
                extra = f" (found {', '.join(others)}: pickle formats are refused)" if others else ""
                raise CometError(f"{model_id}: no {constants.SAFETENSORS_SINGLE_FILE}{extra}")
        else:
            weights = hf_hub_download(
                repo_id=model_id, filename=constants.SAFETENSORS_SINGLE_FILE, revision=revision,
                cache_dir=cache_dir, force_download=force_download, token=token,
                local_files_only=local_files_only,
            )
        model = cls(**model_kwargs)
        load_weights(model, weights)
        model.to(map_location)
        model.eval()
        return model

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu") -> "COMET":
        """Load a local model folder (config.json + model.safetensors) with clear errors."""
        data = read_config_json(directory, constants.CONFIG_NAME)
        config = CometConfig.from_dict(data)
        return cls._from_pretrained(model_id=str(directory), config=config, map_location=str(device))


def _under_bf16(energy):
    """x ↦ energy(x) [B, K] computed under bf16 autocast, returned as float32."""
    def fn(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            return energy(x).float()
    return fn
