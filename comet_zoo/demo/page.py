"""The Gradio page and how it is served.

Every event is registered with `preprocess=False`: Gradio hands the action the values
exactly as the client sent them, and the action checks them (an image field is not
opened or decoded by Gradio first, so a data: URL or a path is judged by `uploads`
before any byte of it is decoded). The same holds for the API endpoints, which are
these events.

Serving: a bounded queue (`Limits.queue` waiting) and `Limits.concurrency` requests
computed at once, with torch's threads split between them; request bodies over
`Limits.body_bytes` are refused before they are read; error details stay in the
server's log."""

from __future__ import annotations

import os

from ..errors import CometError
from .actions import SAMPLERS, friendly, run_compose, run_decompose, run_recombine
from .limits import LIMITS, Limits
from .served import Served

STARTER = ["clevr:obj2", "clevr-lighting:light0"]   # preselected: `comet compose`'s README example


def build_demo(device: str = "auto", *, allow_local: bool = False, folders=(), limits: Limits = LIMITS,
               served: Served | None = None):
    """The Gradio Blocks app, its queue set. Its requests may name the configured hubs' models,
    without file:// hubs unless `allow_local`, and the model `folders` (the operator's opt-ins)."""
    try:
        import gradio as gr
    except ModuleNotFoundError:
        raise CometError("comet demo needs Gradio: pip install 'comet-zoo[demo]'") from None
    from .._text import visible
    from ..core.device import resolve_device

    dev = resolve_device(device)
    served = served if served is not None else Served.from_config(allow_local=allow_local, folders=folders)
    # Menu entries a request could not send back unchanged (a hub's odd characters) are left out.
    concepts = [c for c in served.concepts if visible(c) == c]
    models = [m for m in served.models if visible(m) == m]
    options = dict(device=dev, served=served, limits=limits)
    event = dict(preprocess=False, concurrency_limit=limits.concurrency)

    with gr.Blocks(title="comet-zoo") as demo:
        gr.Markdown("# comet-zoo\nComposable energy concepts (COMET, Du et al., NeurIPS 2021): "
                    "pick concepts from any models, sum their energies, descend on one canvas.")
        with gr.Tab("Compose"):
            rows = []
            # The README's main job, ready to run when its models are at hand.
            start = STARTER if all(c in concepts for c in STARTER) else []
            for i in range(limits.rows):
                with gr.Row():
                    concept = gr.Dropdown(concepts, value=start[i] if i < len(start) else None, label=f"Concept {i + 1}",
                                          elem_id=f"concept-{i}", filterable=True)
                    weight = gr.Number(1.0, label="weight (negative subtracts)", elem_id=f"weight-{i}")
                    upload = gr.Image(type="filepath", label="source image (optional)", elem_id=f"source-{i}",
                                      height=96, sources=["upload"])
                rows += [concept, weight, upload]
            typed = gr.Textbox(label="or type specs (MODEL:COMPONENT[@EXEMPLAR][*WEIGHT], space-separated)",
                               elem_id="typed", max_length=limits.typed_chars)
            with gr.Row():
                seed = gr.Number(0, label="seed", precision=0, elem_id="seed")
                sampler = gr.Radio(SAMPLERS, value="gd", label="sampler", elem_id="sampler")
                steps = gr.Number(0, label=f"steps (0: 4 × N; at most {limits.steps})", precision=0, elem_id="steps")
            go = gr.Button("Compose", variant="primary", elem_id="compose")
            with gr.Row():
                picture = gr.Image(type="pil", format="png", label="composed", elem_id="composed",
                                   interactive=False, height=320)
                descent = gr.HTML(elem_id="descent")

            def on_compose(*values):
                grouped = [tuple(values[j:j + 3]) for j in range(0, 3 * limits.rows, 3)]
                return run_compose(grouped, *values[3 * limits.rows:], **options)
            go.click(friendly(on_compose), [*rows, typed, seed, sampler, steps], [picture, descent],
                     api_name="compose", **event)

        with gr.Tab("Decompose"):
            with gr.Row():
                model = gr.Dropdown(models, value=models[0] if models else None, label="model", elem_id="d-model")
                image = gr.Image(type="filepath", label="image", sources=["upload"], elem_id="d-image")
            split = gr.Button("Decompose", elem_id="decompose")
            parts = gr.Image(type="pil", format="png", label="input, reconstruction, components, masks",
                             interactive=False, elem_id="parts")

            def on_decompose(ref, path):
                return run_decompose(ref, path, **options)
            split.click(friendly(on_decompose), [model, image], parts, api_name="decompose", **event)

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
                return run_recombine(ref_a, path_a, ref_b, path_b, **options)
            swap.click(friendly(on_recombine), [model_a, image_a, model_b, image_b], grid, api_name="recombine",
                       **event)
    # Requests beyond `queue` waiting are turned away; none skips the queue through the REST routes.
    demo.queue(default_concurrency_limit=limits.concurrency, max_size=limits.queue, api_open=False)
    return demo


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is refused (413) before it is read
    (by its Content-Length), or cut off once that many bytes arrived (a chunked body)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await send({"type": "http.response.start", "status": 413,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await send({"type": "http.response.body", "body": b"request body too large\n"})
            return
        received = 0

        async def bounded_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    return {"type": "http.disconnect"}   # the app stops reading, as if the client left
            return message

        await self.app(scope, bounded_receive, send)


def launch_options(limits: Limits = LIMITS) -> dict:
    """The keyword arguments of `Blocks.launch` that serve the demo within `limits`."""
    from starlette.middleware import Middleware

    return dict(max_file_size=limits.upload_bytes, show_error=False,
                app_kwargs={"middleware": [Middleware(BodyLimit, limit=limits.body_bytes)]})


def share_threads(limits: Limits = LIMITS) -> None:
    """Split the CPU's cores between the requests computed at once, so that they do not oversubscribe it."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // limits.concurrency))


def serve(host: str = "127.0.0.1", port: int = 7860, device: str = "auto", open_browser: bool = False, *,
          allow_local: bool = False, folders=(), limits: Limits = LIMITS) -> None:
    """Serve the app until interrupted."""
    demo = build_demo(device, allow_local=allow_local, folders=folders, limits=limits)
    share_threads(limits)
    demo.launch(server_name=host, server_port=port, inbrowser=open_browser, quiet=False, **launch_options(limits))
