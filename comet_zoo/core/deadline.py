"""A wall-clock deadline for one piece of work, checked at every step of the loops that
could otherwise run for hours: the descent (`sampler.descend`) and latent refinement
(`refine.refine_latents`). The web demo gives each request one:

    with deadline(60):                      # seconds from now, for this thread only
        picture = composer.picture(...)     # raises OutOfTime at the first step past it

The deadline lives in a context variable, so two requests served by two threads each
see their own. Outside `deadline` nothing is checked: the command line, the Python API
and training run as long as they are asked to.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from ..errors import CometRuntimeError

_ends_at: ContextVar[tuple[float, float] | None] = ContextVar("comet_deadline", default=None)  # (monotonic end, seconds)


class OutOfTime(CometRuntimeError):
    """The work ran past its deadline; `seconds` is the bound that was hit."""

    def __init__(self, seconds: float):
        super().__init__(f"stopped at the time bound of {seconds:g} s")
        self.seconds = seconds


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Bound the work inside the block to `seconds` of wall time (an enclosing, earlier deadline still holds)."""
    if not seconds > 0:
        raise ValueError(f"a deadline needs seconds > 0, got {seconds}")
    end = time.monotonic() + seconds
    outer = _ends_at.get()
    token = _ends_at.set(outer if outer is not None and outer[0] <= end else (end, seconds))
    try:
        yield
    finally:
        _ends_at.reset(token)


def check_deadline() -> None:
    """Raise OutOfTime when the current deadline (if any) has passed; one clock read otherwise."""
    active = _ends_at.get()
    if active is not None and time.monotonic() > active[0]:
        raise OutOfTime(active[1])
