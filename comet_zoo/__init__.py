"""comet-zoo: composable energy concepts (COMET, Du et al., NeurIPS 2021).

    from comet_zoo import compose, list_models, card
    compose(["clevr:obj2", "clevr-lighting:light0"]).save("out.png")   # = comet compose … -o out.png
    list_models("clevr*"); card("clevr").concepts

Importing the package is cheap: torch is loaded only when a model or the composer is used.
"""

from ._version import __version__  # noqa: F401  (comet_zoo.__version__)
from .errors import CometError

__all__ = ["COMET", "CometConfig", "CometError", "Recipe", "Trainer", "card", "compose", "list_models", "load_model"]
_HUB = {"card", "list_models", "load_model"}   # comet_zoo.hub's read path, under the same names


def __getattr__(name: str):
    if name == "compose":
        from .composer import compose
        return compose
    if name in _HUB:
        from . import hub
        return getattr(hub, name)
    if name == "COMET":
        from .core.model import COMET
        return COMET
    if name == "CometConfig":
        from .core.config import CometConfig
        return CometConfig
    if name == "Recipe":
        from .train.recipe import Recipe
        return Recipe
    if name == "Trainer":
        from .train.trainer import Trainer
        return Trainer
    raise AttributeError(f"module 'comet_zoo' has no attribute {name!r}")
