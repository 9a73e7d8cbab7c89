"""Shared console objects and the one-line error path of every command."""

from __future__ import annotations

from rich.console import Console

console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print `error: message` on one line to stderr and exit with `code`."""
    import typer

    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def parse_key_values(pairs: list[str], flag: str = "--option") -> dict:
    """KEY=VALUE strings → a dict; a VALUE is JSON when it parses (3, true, [1,2]), else a string."""
    import json

    from comet_zoo.errors import CometError

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CometError(f"{flag} takes KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options
