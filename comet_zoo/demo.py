"""`comet demo`: the zoo in a browser (Gradio, the optional `demo` extra).

Three tabs, each drawing with the same functions as the command line:
- Compose: up to MAX_TERMS concepts from any models of any hub (or typed specs), each
  with a weight (negative subtracts) and optionally an uploaded image as its source;
  seed, sampler, steps. Shows the picture `comet compose` would write, and the descent.
- Decompose: an uploaded image split into its components and their masks.
- Recombine: components swapped between two uploaded images, across two models.

Errors (a bad spec, an unknown model, an image too large) show as one-line messages in
the page, never a stack trace. `app.py` at the repository root serves the same app on a
Hugging Face Space.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from pathlib import Path

from .errors import CometError

MAX_TERMS = 4
MAX_UPLOAD = 8 * 1024 * 1024     # bytes per uploaded image
SAMPLERS = ["gd", "langevin", "anneal"]
STARTER = ["clevr:obj2", "clevr-lighting:light0"]   # preselected: `comet compose`'s README example


def concept_choices() -> tuple[list[str], list[str]]:
    """(every MODEL:CONCEPT the configured hubs' cards name, every model reference)."""
    from . import hub

    concepts, models = [], []
    for entry in hub.catalog():
        if not entry.configured:
            continue
        models.append(entry.ref)
        concepts += [f"{entry.ref}:{name}" for name in entry.concepts]
    return concepts, models


def _checked_upload(path: str | None, what: str) -> str | None:
    if path and os.path.getsize(path) > MAX_UPLOAD:
        raise CometError(f"{what} is larger than {MAX_UPLOAD // (1024 * 1024)} MB")
    return path


def compose_terms(rows: list[tuple[str | None, float, str | None]], typed: str) -> list:
    """The specs of the picked rows (concept, weight, uploaded source) and of the typed text."""
    from .spec import parse_spec

    specs = []
    for i, (choice, weight, upload) in enumerate(rows):
        if not choice:
            continue
        spec = parse_spec(choice)
        source = _checked_upload(upload, f"the image of concept {i + 1}")
        specs.append(dataclasses.replace(spec, source=source or spec.source, weight=float(weight)))
    specs += [parse_spec(text) for text in (typed or "").split()]
    if not specs:
        raise CometError("pick at least one concept (or type a spec such as clevr:obj0)")
    return specs


def _gif_html(frames: list) -> str:
    """The descent as an animated GIF inline in the page (a data URI: no file to serve)."""
    import tempfile

    from .data.images import save_gif

    with tempfile.TemporaryDirectory() as folder:
        path = save_gif(frames, Path(folder) / "descent.gif", scale=max(1, 128 // frames[0].shape[-1]))
        data = base64.b64encode(path.read_bytes()).decode()
    return f'<img id="descent-gif" alt="the descent, step by step" src="data:image/gif;base64,{data}">'


def run_compose(rows, typed: str, seed: float, sampler: str, steps: float, device: str = "auto"):
    """(the picture, the descent as HTML) for the page's compose form."""
    from .composer import Composer

    specs = compose_terms(rows, typed)
    if sampler not in SAMPLERS:
        raise CometError(f"sampler must be one of {', '.join(SAMPLERS)}")
    if seed is None or not float(seed).is_integer() or steps is None or not float(steps).is_integer():
        raise CometError("seed and steps must be whole numbers")
    composer = Composer.from_specs(specs, device=device)
    frames: list = []
    picture = composer.picture(1, steps=int(steps) or None, sampler=sampler, seed=int(seed), trajectory=frames)
    return picture, _gif_html(frames)


def _friendly(fn):
    """Run a page action; any failure becomes one line in the page (gr.Error), never a trace."""
    import functools

    import gradio as gr

    @functools.wraps(fn)
    def wrapped(*args):
        try:
            return fn(*args)
        except CometError as exc:
            raise gr.Error(str(exc).splitlines()[0]) from None
        except Exception as exc:  # a bug still reaches the user as one line
            raise gr.Error(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'failed'}") from None
    return wrapped


def build_demo(device: str = "auto"):
    """The Gradio Blocks app."""
    try:
        import gradio as gr
    except ModuleNotFoundError:
        raise CometError("comet demo needs Gradio: pip install 'comet-zoo[demo]'") from None
    from .core.device import resolve_device
    from .figures import decomposition, recombination

    dev = resolve_device(device)
    concepts, models = concept_choices()

    with gr.Blocks(title="comet-zoo") as demo:
        gr.Markdown("# comet-zoo\nComposable energy concepts (COMET, Du et al., NeurIPS 2021): "
                    "pick concepts from any models, sum their energies, descend on one canvas.")
        with gr.Tab("Compose"):
            rows = []
            # The README's main job, ready to run when its models are at hand.
            start = [c for c in STARTER if c in concepts] if all(c in concepts for c in STARTER) else []
            for i in range(MAX_TERMS):
                with gr.Row():
                    concept = gr.Dropdown(concepts, value=start[i] if i < len(start) else None, label=f"Concept {i + 1}",
                                          elem_id=f"concept-{i}", filterable=True)
                    weight = gr.Number(1.0, label="weight (negative subtracts)", elem_id=f"weight-{i}")
                    upload = gr.Image(type="filepath", label="source image (optional)", elem_id=f"source-{i}",
                                      height=96, sources=["upload"])
                rows += [concept, weight, upload]
            typed = gr.Textbox(label="or type specs (MODEL:COMPONENT[@SOURCE][*WEIGHT], space-separated)",
                               elem_id="typed")
            with gr.Row():
                seed = gr.Number(0, label="seed", precision=0, elem_id="seed")
                sampler = gr.Radio(SAMPLERS, value="gd", label="sampler", elem_id="sampler")
                steps = gr.Number(0, label="steps (0: 4 × N)", precision=0, elem_id="steps")
            go = gr.Button("Compose", variant="primary", elem_id="compose")
            with gr.Row():
                picture = gr.Image(type="pil", format="png", label="composed", elem_id="composed",
                                   interactive=False, height=320)
                descent = gr.HTML(elem_id="descent")

            def on_compose(*values):
                grouped = [tuple(values[j:j + 3]) for j in range(0, 3 * MAX_TERMS, 3)]
                return run_compose(grouped, *values[3 * MAX_TERMS:], device=dev)
            go.click(_friendly(on_compose), [*rows, typed, seed, sampler, steps], [picture, descent])

        with gr.Tab("Decompose"):
            with gr.Row():
                model = gr.Dropdown(models, value=models[0] if models else None, label="model", elem_id="d-model")
                image = gr.Image(type="filepath", label="image", sources=["upload"], elem_id="d-image")
            split = gr.Button("Decompose", elem_id="decompose")
            parts = gr.Image(type="pil", format="png", label="input, reconstruction, components, masks",
                             interactive=False, elem_id="parts")

            def on_decompose(ref, path):
                if not path:
                    raise CometError("upload an image to decompose")
                return decomposition(ref, _checked_upload(path, "the image"), device=dev)
            split.click(_friendly(on_decompose), [model, image], parts)

        with gr.Tab("Recombine"):
            with gr.Row():
                model_a = gr.Dropdown(models, value=models[0] if models else None, label="model A", elem_id="r-model-a")
                image_a = gr.Image(type="filepath", label="scene A", sources=["upload"], elem_id="r-image-a")
                model_b = gr.Dropdown(models, value=models[0] if models else None, label="model B", elem_id="r-model-b")
                image_b = gr.Image(type="filepath", label="scene B", sources=["upload"], elem_id="r-image-b")
            swap = gr.Button("Recombine", elem_id="recombine")
            grid = gr.Image(type="pil", format="png", label="A, B, and each component swapped",
                            interactive=False, elem_id="swapped")

            def on_recombine(ref_a, path_a, ref_b, path_b):
                if not (path_a and path_b):
                    raise CometError("upload two images to recombine")
                return recombination(ref_a, _checked_upload(path_a, "scene A"), ref_b,
                                     _checked_upload(path_b, "scene B"), device=dev)
            swap.click(_friendly(on_recombine), [model_a, image_a, model_b, image_b], grid)
    return demo


def serve(host: str = "127.0.0.1", port: int = 7860, device: str = "auto", open_browser: bool = False) -> None:
    """Serve the app until interrupted."""
    demo = build_demo(device)
    demo.queue(default_concurrency_limit=1)  # one descent at a time: the CPU has few cores
    demo.launch(server_name=host, server_port=port, max_file_size=MAX_UPLOAD, inbrowser=open_browser,
                show_error=True, quiet=False)

