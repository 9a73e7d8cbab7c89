"""`comet demo`: the zoo in a browser (Gradio, the optional `demo` extra), safe to serve
to the public.

Three tabs, each drawing with the same functions as the command line:
- Compose: up to `Limits.rows` concepts from the served models (or typed specs), each
  with a weight (negative subtracts) and optionally an uploaded image as its source;
  seed, sampler, steps. Shows the picture `comet compose` would write, and the descent.
- Decompose: an uploaded image split into its components and their masks.
- Recombine: components swapped between two uploaded scenes, across two models.

What a request can reach, and what it cannot (docs/security.md):
- `served`: models of the configured hubs only; file:// hubs only when the operator
  passes `--allow-local`; never a folder or hub that a request names.
- `uploads`: images only as Gradio uploads or data: URLs, checked in bytes and pixels
  before decoding; the demo never opens a path a request names.
- `requests`: every value of every endpoint checked in the function the endpoint calls.
- `limits`: bounds on terms, steps, sizes, refinement, seeds and wall time
  (`core.deadline`); the answer names the bound that was hit.
- `actions.friendly`: errors are one escaped line; `page`: the queue, the body limit.

`app.py` at the repository root serves the same app on a Hugging Face Space.
"""

from .actions import SAMPLERS, friendly, run_compose, run_decompose, run_recombine
from .limits import LIMITS, Limits
from .page import BodyLimit, build_demo, launch_options, serve, share_threads
from .served import Served

MAX_TERMS = LIMITS.rows
MAX_UPLOAD = LIMITS.upload_bytes
_friendly = friendly   # the name the browser tests use

__all__ = ["LIMITS", "Limits", "MAX_TERMS", "MAX_UPLOAD", "SAMPLERS", "BodyLimit", "Served", "build_demo",
           "friendly", "launch_options", "run_compose", "run_decompose", "run_recombine", "serve", "share_threads"]
