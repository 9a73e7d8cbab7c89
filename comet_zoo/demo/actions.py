"""What each of the page's buttons (and the API endpoint behind it) does, with every
request bounded: its values checked first (`requests`), its models served ones only
(`served`), its images checked copies (`uploads`), and its work under a deadline
(`core.deadline`). The answer says which bound was hit.

Each action takes the raw values of its endpoint and returns what the page shows.
"""

from __future__ import annotations

import base64
import os
import sys
import tempfile
import traceback
from contextlib import contextmanager
from pathlib import Path

from .._text import visible_html
from ..core.deadline import OutOfTime, deadline
from ..errors import CometError
from .limits import LIMITS, Limits
from .requests import choice, compose_specs, whole
from .served import Served
from .uploads import checked_image

SAMPLERS = ["gd", "langevin", "anneal"]


def _gif_html(frames: list, notes: list[str]) -> str:
    """The bounds that were hit (escaped text), then the descent as an animated GIF inline
    in the page (a data URI: no file to serve)."""
    from ..data.images import save_gif

    head = "".join(f'<p class="bound">{visible_html(n)}</p>' for n in notes)
    if not frames:
        return head
    with tempfile.TemporaryDirectory() as folder:
        path = save_gif(frames, Path(folder) / "descent.gif", scale=max(1, 128 // frames[0].shape[-1]))
        data = base64.b64encode(path.read_bytes()).decode()
    return head + f'<img id="descent-gif" alt="the descent, step by step" src="data:image/gif;base64,{data}">'


@contextmanager
def _request(served: Served, limits: Limits):
    """The request's private folder (its checked images) and its deadline. A message that
    leaves names no server folder: a served file:// hub's folder, the cache and the
    request's folder are cut out of it."""
    with tempfile.TemporaryDirectory(prefix="comet-demo-") as folder, deadline(limits.seconds):
        try:
            yield Path(folder)
        except CometError as exc:
            raise CometError(served.redact(str(exc)).replace(folder + os.sep, "").replace(folder, "")) from None


def run_compose(rows, typed, seed, sampler, steps, device: str = "auto", *, served: Served | None = None,
                limits: Limits = LIMITS):
    """(the picture, the bounds hit and the descent as HTML) for the compose form: `rows` of
    (concept, weight, image), typed specs, seed, sampler, steps (0: 4 × N)."""
    from ..composer import STEPS_FACTOR, Composer, view_scale
    from ..data.images import grid

    sampler = choice(sampler, SAMPLERS, "sampler")
    seed = whole(seed, 0, limits.seed, "seed")
    steps = whole(steps, 0, limits.steps, "steps")
    served = served if served is not None else Served.from_config()
    with _request(served, limits) as folder:
        specs = compose_specs(rows, typed, served, limits, folder)
        for ref in {s.ref for s in specs}:
            served.check_model(ref, limits)
        notes: list[str] = []
        frames: list = []
        try:
            composer = Composer.from_specs(specs, device=device)
            if not steps:
                steps = STEPS_FACTOR * composer.steps
                if steps > limits.steps:
                    notes.append(f"steps bound: {limits.steps} steps (the models' default is {steps})")
                    steps = limits.steps
            picture = composer.picture(1, steps=steps, sampler=sampler, seed=seed, trajectory=frames)
        except OutOfTime as exc:
            if not frames:
                raise CometError(f"{exc} before the descent began; try fewer concepts or images") from None
            picture = grid(frames[-1].clamp(0, 1), nrow=1, pad=0, scale=view_scale(frames[-1].shape[-1]))
            notes.append(f"time bound: stopped after {len(frames)} of {steps} steps ({exc.seconds:g} s); "
                         "the picture is the last step's")
    return picture, _gif_html(frames, notes)


def run_decompose(ref, image, device: str = "auto", *, served: Served | None = None, limits: Limits = LIMITS):
    """The decomposition figure of an uploaded image by a served model."""
    from ..figures import decomposition

    served = served if served is not None else Served.from_config()
    with _request(served, limits) as folder:
        model = served.ref(ref)
        path = checked_image(image, "the image", limits, folder)
        if path is None:
            raise CometError("upload an image to decompose")
        served.check_model(model, limits)
        return decomposition(str(model), path, device=device)


def run_recombine(ref_a, image_a, ref_b, image_b, device: str = "auto", *, served: Served | None = None,
                  limits: Limits = LIMITS):
    """The recombination figure of two uploaded scenes by two served models."""
    from ..figures import recombination

    served = served if served is not None else Served.from_config()
    with _request(served, limits) as folder:
        model_a, model_b = served.ref(ref_a), served.ref(ref_b)
        path_a = checked_image(image_a, "scene A", limits, folder)
        path_b = checked_image(image_b, "scene B", limits, folder)
        if path_a is None or path_b is None:
            raise CometError("upload two images to recombine")
        for model in (model_a, model_b):
            served.check_model(model, limits)
        return recombination(str(model_a), path_a, str(model_b), path_b, device=device)


def friendly(fn):
    """Run a page action; any failure becomes one escaped line in the page (gr.Error renders
    HTML: the text, which may quote a request or a hub, is never parsed as markup)."""
    import functools

    import gradio as gr

    @functools.wraps(fn)
    def wrapped(*args):
        try:
            return fn(*args)
        except CometError as exc:
            lines = str(exc).splitlines() or ["failed"]
            raise gr.Error(visible_html(lines[0]), print_exception=False) from None
        except Exception as exc:  # a bug: the log gets the trace, the page one line that reveals nothing
            traceback.print_exc(file=sys.stderr)
            raise gr.Error(f"the demo failed ({visible_html(type(exc).__name__)}); the server's log has the details",
                           print_exception=False) from None
    return wrapped
