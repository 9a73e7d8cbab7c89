"""comet-zoo: composable energy concepts (COMET, Du et al., NeurIPS 2021).

Importing the package is cheap: torch is loaded only when a model class is used.
"""

from .errors import CometError

__version__ = "0.1.0"
__all__ = ["COMET", "CometConfig", "CometError", "Recipe", "Trainer"]


def __getattr__(name: str):
    if name == "COMET":
        from .model import COMET
        return COMET
    if name == "CometConfig":
        from .config import CometConfig
        return CometConfig
    if name == "Recipe":
        from .recipe import Recipe
        return Recipe
    if name == "Trainer":
        from .train import Trainer
        return Trainer
    raise AttributeError(f"module 'comet_zoo' has no attribute {name!r}")
