"""Component specs on the command line: MODEL:COMPONENT[@SOURCE][*WEIGHT].

    clevr:obj2                 component obj2 of the newest clevr, latent from the card's first exemplar
    clevr@v5:obj0@scene.png    latent inferred from an image file
    clevr:obj1@3               latent from the card's exemplar 3
    clevr-lighting:light0*0.5  half weight; a negative weight subtracts the concept
    bundled:clevr:obj0         MODEL is any model reference (comet_zoo.hub.names):
    hf-hub:org/clevr@v5:obj0   a qualified hub name or a local model folder
    ./runs/x/model:c1
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import CometError
from .hub.names import SCHEMES, Ref, parse_ref

COMPONENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*|[0-9]+")


@dataclass(frozen=True)
class ComponentSpec:
    ref: Ref                # the model
    component: str          # a concept name from the card, or a component index
    source: str | None      # image path or exemplar index; None = first exemplar
    weight: float = 1.0

    @property
    def model_ref(self) -> str:
        return str(self.ref)


def split_model(text: str) -> tuple[str, str, str]:
    """'MODEL:REST' → (MODEL, ':', REST), as str.partition. A qualified model starts with its
    own scheme's colon (bundled:, hf-hub:, file://), so the separator is the next one."""
    scheme = next((s for s in SCHEMES if text.startswith(s)), "")
    model_tail, colon, rest = text[len(scheme):].partition(":")
    return scheme + model_tail, colon, rest


def parse_spec(text: str) -> ComponentSpec:
    """Parse one spec; any malformed part raises a CometError naming the spec."""
    def bad(why: str) -> CometError:
        return CometError(f"bad component spec {text!r}: {why}; expected MODEL[@VERSION]:COMPONENT[@SOURCE][*WEIGHT]")

    if not isinstance(text, str):
        raise bad("not text")
    model, colon, rest = split_model(text)
    if not colon:
        raise bad("missing ':' between model and component")
    try:
        ref = parse_ref(model)
    except CometError as exc:
        raise bad(str(exc)) from None
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
    return ComponentSpec(ref, component, source or None, weight)
