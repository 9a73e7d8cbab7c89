"""Shared console objects and the one-line error path of every command."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from comet_zoo._text import visible

# User and hub text is never parsed as Rich markup ("[/x]" in a path or a card is text),
# and never highlighted; styled output builds rich.text.Text explicitly.
console = Console(markup=False, highlight=False)
errors = Console(stderr=True, markup=False, highlight=False)


def plain(text, multiline: bool = False) -> str:
    """Text from a hub, a card or the user, safe for a terminal: control characters (ESC
    sequences could move the cursor, retitle the terminal or hide text) and Unicode format
    characters (bidi overrides reverse what follows, zero-width ones hide a difference) are
    written as their escapes, e.g. \\u202e. One line unless `multiline` (a card's body)."""
    return visible(text, multiline=multiline)


def error_line(message) -> Text:
    """`error: message` with only the prefix styled."""
    return Text.assemble(("error:", "bold red"), " ", plain(message))


def fail(message: str, code: int = 2) -> None:
    """Print `error: message` on one line to stderr and exit with `code`."""
    import typer

    errors.print(error_line(message), soft_wrap=True)
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
