"""Strict, safetensors-only weight loading with one clear error per problem."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from .._io import MAX_WEIGHTS_BYTES, check_regular
from ..errors import CometError, CometRuntimeError


def load_weights(module: nn.Module, path: str | Path) -> None:
    """Load a safetensors file into `module`; missing, unexpected or misshapen keys are errors.

    Nothing is unpickled: a pickle (or any non-safetensors) payload is refused by
    the safetensors header check. Dtypes may differ (fp16 zoo weights load into an
    fp32 model).
    """
    path = Path(path)
    if not path.is_file():
        raise CometRuntimeError(f"weights file not found: {path}")
    check_regular(path, MAX_WEIGHTS_BYTES, inside=path.parent)   # no link out of the model folder
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CometRuntimeError(f"{path.name} is not a valid safetensors file ({exc})") from None
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:5]}{'…' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected[:5]}{'…' if len(unexpected) > 5 else ''}")
        raise CometError(f"{path.name} does not match the model: {'; '.join(parts)}")
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape:
            raise CometError(
                f"{path.name}: {key} has shape {tuple(tensor.shape)}, the model expects {tuple(expected[key].shape)}")
        if not tensor.is_floating_point() and expected[key].is_floating_point():
            raise CometError(f"{path.name}: {key} has dtype {tensor.dtype}, expected a float tensor")
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CometRuntimeError(f"{path.name}: {key} holds NaN or infinite values")
    with torch.no_grad():
        module.load_state_dict(state, strict=True)


def transfer_weights(module: nn.Module, state: dict[str, torch.Tensor], label: str) -> list[str]:
    """Copy a trained model's tensors into `module` by name (fine-tuning starts from them).

    Every tensor of `state` must name a tensor of `module` with the same shape: a source
    that does not fit is an error, never a silent partial load. The module's tensors that
    the source lacks keep their fresh init; their names are returned. Since no parameter
    of the energy or of the recurrent encoder depends on K, a model with more components
    (an added global one, say) starts from one with fewer.
    """
    expected = module.state_dict()
    unexpected = sorted(set(state) - set(expected))
    if unexpected:
        raise CometError(f"{label} does not fit this model: it has {unexpected[:3]}"
                         f"{'…' if len(unexpected) > 3 else ''}, which this model lacks")
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape:
            raise CometError(f"{label} does not fit this model: {key} has shape {tuple(tensor.shape)}, "
                             f"this model's is {tuple(expected[key].shape)}")
    with torch.no_grad():
        for key, tensor in state.items():
            expected[key].copy_(tensor)   # state_dict tensors share storage with the module's
    return sorted(set(expected) - set(state))
