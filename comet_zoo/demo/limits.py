"""The bounds on one request of the web demo, in one place: every request is refused
before any work when it asks for more, or stopped (and told so) when it runs past the
time bound. `comet demo` takes the defaults; `build_demo(limits=...)` changes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import CometError

MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    rows: int = 4                     # concept rows in the form
    terms: int = 8                    # concepts per picture: rows and typed specs together
    typed_chars: int = 1000           # characters in the typed-specs box
    steps: int = 200                  # descent steps per picture (the zoo's default, 4 × N, is 20)
    model_steps: int = 50             # a served model's own N (decompose runs it once per component)
    canvas: int = 128                 # pixels: a served model's native size
    refine_steps: int = 40            # latent refinement a served model's config may ask (the zoo's: 40 at most)
    weight: float = 100.0             # |weight| of one concept
    seed: int = 2**31 - 1             # seeds are 0..seed
    upload_bytes: int = 8 * MiB       # one image, uploaded or sent as a data: URL
    upload_pixels: int = 2048 * 2048  # one image's width × height, read from its header
    seconds: float = 60.0             # wall time of one request, from the moment a worker takes it
    concurrency: int = 2              # requests computed at once; the others wait in the queue
    queue: int = 16                   # requests waiting; more are turned away at once
    body_bytes: int = 12 * MiB        # one HTTP request body (an upload is multipart, a data: URL base64)

    def __post_init__(self):
        if not (self.concurrency >= 1 and self.queue >= 1 and self.seconds > 0 and self.rows >= 1):
            raise CometError("the demo's concurrency, queue, time bound and rows must be positive")


LIMITS = Limits()
