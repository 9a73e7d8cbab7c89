"""Shared console objects and the one-line error path of every command."""

from __future__ import annotations

import re

from rich.console import Console
from rich.text import Text

# User and hub text is never parsed as Rich markup ("[/x]" in a path or a card is text),
# and never highlighted; styled output builds rich.text.Text explicitly.
console = Console(markup=False, highlight=False)
errors = Console(stderr=True, markup=False, highlight=False)

# Control characters other than tab and newline: ESC sequences in a card or a name
# could move the cursor, retitle the terminal or hide text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text) -> str:
    """Text from a hub, a card or the user, safe for a terminal: control characters become '?'."""
    return _CONTROL.sub("?", str(text))


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
