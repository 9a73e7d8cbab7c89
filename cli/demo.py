"""`comet demo`: the browser composer on 127.0.0.1 (Gradio; the `demo` extra)."""

from __future__ import annotations

import typer


def demo(
    port: int = typer.Option(7860, "--port", help="Port on 127.0.0.1."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 exposes it to the network)."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu or cuda[:N]."),
    open_browser: bool = typer.Option(False, "--open", help="Open the page in the default browser."),
    allow_local: bool = typer.Option(
        False, "--allow-local",
        help="Also serve the models of configured file:// hubs (COMET_HUB, config file). Without it only bundled "
             "and hf:// hubs are served; a request never names a folder or hub that the operator did not serve."),
    models: list[str] = typer.Option(
        [], "--model", help="Also serve this model folder (repeatable); requests name it by this text."),
    workers: int = typer.Option(2, "--workers", help="Requests computed at once (1..16); the CPU's threads are "
                                                     "split between them."),
    queue: int = typer.Option(16, "--queue", help="Requests waiting at most (1..1000); more are turned away."),
    time_limit: float = typer.Option(60.0, "--time-limit", help="Seconds of work per request (1..3600); a descent "
                                                                 "past it stops and says so."),
) -> None:
    """Compose, decompose and recombine in a web page: models and concepts from the configured hubs."""
    import dataclasses

    from comet_zoo.demo import LIMITS, serve
    from comet_zoo.errors import CometError

    if not 1 <= port <= 65535:
        raise CometError(f"--port must be in 1..65535, got {port}")
    if not 1 <= workers <= 16:
        raise CometError(f"--workers must be in 1..16, got {workers}")
    if not 1 <= queue <= 1000:
        raise CometError(f"--queue must be in 1..1000, got {queue}")
    if not 1 <= time_limit <= 3600:
        raise CometError(f"--time-limit must be in 1..3600 seconds, got {time_limit:g}")
    limits = dataclasses.replace(LIMITS, concurrency=workers, queue=queue, seconds=time_limit)
    serve(host=host, port=port, device=device, open_browser=open_browser, allow_local=allow_local, folders=models,
          limits=limits)
