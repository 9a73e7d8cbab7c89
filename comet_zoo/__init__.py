"""comet-zoo: composable energy concepts (COMET, Du et al., NeurIPS 2021).

Importing the package is cheap: torch is loaded only when a model class is used.
"""

from ._version import __version__  # noqa: F401  (comet_zoo.__version__)
from .errors import CometError

__all__ = ["COMET", "CometConfig", "CometError", "Recipe", "Trainer"]


def __getattr__(name: str):
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
