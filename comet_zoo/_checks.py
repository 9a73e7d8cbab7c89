"""Checks of the plain values a user passes to the Python API (counts, seeds, sizes).

`steps=2.5`, `batch="4"`, `seed=-1` or `seed=True` would otherwise surface as a TypeError
deep inside torch, or run for hours: each becomes one CometError that names the argument
and its range, the same message the CLI prints.
"""

from __future__ import annotations

import math

from .errors import CometError

MAX_SEED = 2**63 - 1


def check_int(value, name: str, low: int, high: int) -> int:
    """`value` as an int in low..high; a bool, a float or text is refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise CometError(f"{name} must be an integer in {low}..{high}, got {value!r}")
    if not low <= value <= high:
        raise CometError(f"{name} must be in {low}..{high}, got {value}")
    return value


def check_number(value, name: str, low: float, high: float) -> float:
    """`value` as a finite float in low..high; a bool or text is refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CometError(f"{name} must be a finite number in {low:g}..{high:g}, got {value!r}")
    if not low <= value <= high:
        raise CometError(f"{name} must be in {low:g}..{high:g}, got {value:g}")
    return float(value)


def check_seed(seed) -> int:
    """A seed torch takes: an integer in 0..2**63-1 (a negative one would wrap silently)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise CometError(f"seed must be in 0..2**63-1, got {seed!r}")
    return seed
