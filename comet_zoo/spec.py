"""Component specs on the command line: MODEL[@VERSION]:COMPONENT[@SOURCE][*WEIGHT].

    clevr:obj2                 component obj2 of the newest clevr, latent from the card's first exemplar
    clevr@v1:obj0@scene.png    latent inferred from an image file
    clevr:obj1@3               latent from the card's exemplar 3
    clevr-lighting:light0*0.5  half weight; a negative weight subtracts the concept
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import CometError
from .hub.names import NAME, VERSION

COMPONENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*|[0-9]+")


@dataclass(frozen=True)
class ComponentSpec:
    model: str
    version: str | None
    component: str          # a concept name from the card, or a component index
    source: str | None      # image path or exemplar index; None = first exemplar
    weight: float = 1.0

    @property
    def model_ref(self) -> str:
        return f"{self.model}@{self.version}" if self.version else self.model


def parse_spec(text: str) -> ComponentSpec:
    """Parse one spec; any malformed part raises a CometError naming the spec."""
    def bad(why: str) -> CometError:
        return CometError(f"bad component spec {text!r}: {why}; expected MODEL[@VERSION]:COMPONENT[@SOURCE][*WEIGHT]")

    if not isinstance(text, str) or ":" not in text:
        raise bad("missing ':' between model and component")
    model_part, rest = text.split(":", 1)
    model, _, version = model_part.partition("@")
    if not NAME.fullmatch(model):
        raise bad(f"model name {model!r} must match [a-z0-9][a-z0-9-]*")
    if "@" in model_part and not VERSION.fullmatch(version):
        raise bad(f"version {version!r} must look like v1, v2, …")
    weight = 1.0
    head, star, tail = rest.rpartition("*")
    if star:
        try:
            weight = float(tail)
        except ValueError:
            raise bad(f"weight {tail!r} is not a number") from None
        if not math.isfinite(weight):
            raise bad(f"weight {tail!r} must be finite")
        rest = head
    component, at, source = rest.partition("@")
    if not COMPONENT.fullmatch(component):
        raise bad(f"component {component!r} must be a concept name or an index")
    if at and not source:
        raise bad("empty source after '@'")
    return ComponentSpec(model, version or None, component, source or None, weight)
