"""`comet demo`: the browser composer on 127.0.0.1 (Gradio; the `demo` extra)."""

from __future__ import annotations

import typer


def demo(
    port: int = typer.Option(7860, "--port", help="Port on 127.0.0.1."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 exposes it to the network)."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu or cuda[:N]."),
    open_browser: bool = typer.Option(False, "--open", help="Open the page in the default browser."),
) -> None:
    """Compose, decompose and recombine in a web page: models and concepts from every hub."""
    from comet_zoo.demo import serve
    from comet_zoo.errors import CometError

    if not 1 <= port <= 65535:
        raise CometError(f"--port must be in 1..65535, got {port}")
    serve(host=host, port=port, device=device, open_browser=open_browser)
