"""Model kinds: COMET and the baselines behind one small interface.

A recipe's `model` section and a model folder's config.json name their kind
(`"kind": "beta-vae"`); without one they are COMET, so every existing recipe and
zoo model reads as before. Each kind provides

    infer(x) → latents [B, K, D]       reconstruct(x, generator) → [B, 3, H, W]
    save_pretrained(dir), load(dir)    config.image_size, config.num_components

and the Trainer and the evaluator use only these (plus `training_loss(x)` for
models that are not trained by Algorithm 1, and `segment(x)` where a model
segments by itself; COMET segments by its energy gradients).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from .errors import CometError

# kind → ("module:ModelClass", "module:ConfigClass"), imported on use
KINDS = {
    "comet": ("comet_zoo.core.model:COMET", "comet_zoo.core.config:CometConfig"),
    "beta-vae": ("comet_zoo.eval.baselines.beta_vae:BetaVAE", "comet_zoo.eval.baselines.beta_vae:BetaVAEConfig"),
    "slot-attention": ("comet_zoo.eval.baselines.slot_attention:SlotAttention",
                       "comet_zoo.eval.baselines.slot_attention:SlotAttentionConfig"),
}


def _import(ref: str):
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def _entry(kind: str) -> tuple[str, str]:
    if kind not in KINDS:
        raise CometError(f"unknown model kind {kind!r}; known: {', '.join(KINDS)}")
    return KINDS[kind]


def config_from_dict(data: dict):
    """A model section / config.json → the config object of its kind."""
    if not isinstance(data, dict):
        raise CometError("a model config is a JSON object")
    data = dict(data)
    kind = data.get("kind", "comet")
    if not isinstance(kind, str):
        raise CometError(f"a model config's kind is a name such as comet, got {kind!r:.40}")
    if kind == "comet":
        data.pop("kind", None)          # CometConfig has no kind: COMET files stay as they were
    return _import(_entry(kind)[1]).from_dict(data)


def kind_of(obj) -> str:
    """The kind of a model or config."""
    config = getattr(obj, "config", obj)
    return getattr(config, "kind", "comet")


def build_model(config):
    """A fresh model of the config's kind."""
    return _import(_entry(kind_of(config))[0])(config)


def load_model(directory: str | Path, device="cpu"):
    """A local model folder (config.json + model.safetensors) of any kind, loaded strictly."""
    directory = Path(directory)
    path = directory / "config.json"
    if not path.is_file():
        raise CometError(f"{directory}: no config.json (not a model folder)")
    try:
        kind = json.loads(path.read_text(encoding="utf-8")).get("kind", "comet")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
        raise CometError(f"{path}: invalid model config ({exc})") from None
    return _import(_entry(kind)[0]).load(directory, device=device)


def resolve_model(ref: str, device="cpu"):
    """(model, folder) of any model reference: a local folder (./runs/x/model) or a hub name."""
    from . import hub

    folder = hub.resolve(ref)
    return load_model(folder, device), folder
