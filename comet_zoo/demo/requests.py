"""A request's values, checked: every field of every endpoint arrives as the client sent
it (JSON of any type, from the page or from the API), so each is checked here, inside
the functions the endpoints call, and never trusted to the form.

A typed spec's `@SOURCE` must be an exemplar index of the model's card: the demo never
opens a path that a request names. A user's own image comes through an image field
(`uploads.checked_image`)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from .._text import visible
from ..errors import CometError
from ..hub.names import is_path
from ..spec import ComponentSpec, parse_spec, split_model
from .limits import Limits
from .served import Served, _not_served
from .uploads import checked_image


def whole(value, low: int, high: int, what: str) -> int:
    """A whole number in low..high (a float such as 3.0 counts; text, bools, 2.5 and nan do not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not (math.isfinite(value) and value.is_integer())):
        raise CometError(f"{what} must be a whole number in {low}..{high}")
    if not low <= value <= high:
        raise CometError(f"{what} must be in {low}..{high} (this demo's bound), got {int(value)}")
    return int(value)


def weight(value, limits: Limits, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or abs(value) > limits.weight:
        raise CometError(f"{what} must be a number in -{limits.weight:g}..{limits.weight:g}")
    return float(value)


def choice(value, options, what: str) -> str:
    if not isinstance(value, str) or value not in options:
        raise CometError(f"{what} must be one of {', '.join(options)}")
    return value


def _is_index(text: str) -> bool:
    return text.isascii() and text.isdigit()


def spec(text, served: Served, what: str) -> ComponentSpec:
    """One spec of a request, its model pinned to a served hub and its source an exemplar index (or none)."""
    if not isinstance(text, str):
        raise CometError(f"{what} must be a spec such as clevr:obj0")
    model, colon, _ = split_model(text)
    if colon and model not in served.folders and (is_path(model) or model.startswith("file://")):
        raise _not_served(model)              # refused on the text: no path is looked up
    parsed = parse_spec(text)
    if parsed.source is not None and not _is_index(parsed.source):
        raise CometError(f"{visible(text)}: a typed source must be an exemplar index of the model's card "
                         f"(e.g. {parsed.ref}:{parsed.component}@0); for your own image, upload it in a concept row")
    return dataclasses.replace(parsed, ref=served.ref(model))


def compose_specs(rows, typed, served: Served, limits: Limits, folder: Path) -> list[ComponentSpec]:
    """The specs of the form's rows (concept, weight, image) and of the typed text, checked;
    uploaded images are copied into `folder` and become those terms' sources."""
    if not isinstance(rows, (list, tuple)) or len(rows) > limits.rows:
        raise CometError(f"at most {limits.rows} concept rows")
    if typed is None:
        typed = ""
    if not isinstance(typed, str) or len(typed) > limits.typed_chars:
        raise CometError(f"the typed specs must be text of at most {limits.typed_chars} characters")
    words = typed.split()
    picked = [row for row in rows if isinstance(row, (list, tuple)) and len(row) == 3 and row[0]]
    if len(picked) + len(words) > limits.terms:
        raise CometError(f"at most {limits.terms} concepts per picture (this demo's bound), got "
                         f"{len(picked) + len(words)}")
    specs = []
    for i, row in enumerate(rows):
        if not isinstance(row, (list, tuple)) or len(row) != 3:
            raise CometError(f"concept row {i + 1} must be (concept, weight, image)")
        name, w, upload = row
        if not name:
            continue
        what = f"concept {i + 1}"
        term = spec(name, served, what)
        term = dataclasses.replace(term, weight=weight(w, limits, f"the weight of {what}"))
        image = checked_image(upload, f"the image of {what}", limits, folder)
        if image is not None:
            term = dataclasses.replace(term, source=str(image))
        specs.append(term)
    for word in words:
        term = spec(word, served, "a typed spec")
        specs.append(dataclasses.replace(term, weight=weight(term.weight, limits, f"the weight of {visible(word)}")))
    if not specs:
        raise CometError("pick at least one concept (or type a spec such as clevr:obj0)")
    return specs
