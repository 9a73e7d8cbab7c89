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
from .hub.names import SCHEMES, Ref, check_path_text, parse_ref

COMPONENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}|[0-9]{1,4}")
# |weight| above this saturates every pixel (each term is also scaled by the model's step
# size, 100-1000): the picture is black or white whatever the concept.
MAX_WEIGHT = 100.0


def check_weight(weight, what: str = "weight") -> float:
    """A term's weight: a finite number with |weight| <= MAX_WEIGHT (negative subtracts)."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise CometError(f"{what} must be a number, got {weight!r}")
    if not math.isfinite(weight) or abs(weight) > MAX_WEIGHT:
        raise CometError(f"{what} must be a finite number in -{MAX_WEIGHT:g}..{MAX_WEIGHT:g}, got {weight!r}")
    return float(weight)


@dataclass(frozen=True)
class ComponentSpec:
    ref: Ref                # the model
    component: str          # a concept name from the card, or a component index
    source: str | None      # image path or exemplar index; None = first exemplar
    weight: float = 1.0

    def __post_init__(self):
        # Built by parse_spec or directly from Python: the same checks either way.
        if not isinstance(self.ref, Ref):
            raise CometError(f"a component spec's ref must be a model reference (Ref), got {self.ref!r}")
        if not isinstance(self.component, str) or not COMPONENT.fullmatch(self.component):
            raise CometError(f"component {self.component!r} must be a concept name or an index")
        if self.source is not None and not (isinstance(self.source, str) and self.source):
            raise CometError(f"source {self.source!r} must be an image path or an exemplar index")
        if self.source is not None:
            check_path_text(self.source)
        object.__setattr__(self, "weight", check_weight(self.weight))

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
        try:
            check_weight(weight)
        except CometError as exc:
            raise bad(str(exc)) from None
        rest = head
    component, at, source = rest.partition("@")
    if not COMPONENT.fullmatch(component):
        raise bad(f"component {component!r} must be a concept name or an index")
    if at and not source:
        raise bad("empty source after '@'")
    try:
        return ComponentSpec(ref, component, source or None, weight)
    except CometError as exc:
        raise bad(str(exc)) from None
