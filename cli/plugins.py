"""`comet plugins`: every registered encoder, energy and dataset, and whether it loads."""

from __future__ import annotations

from ._console import console, plain


def plugins() -> None:
    """List plugins by entry-point group, with the providing package and load status."""
    from rich.table import Table
    from rich.text import Text

    from comet_zoo import registry

    table = Table(title="comet-zoo plugins")
    for column in ("group", "name", "package", "object", "status"):
        table.add_column(column)
    for group in registry.GROUPS:
        for plugin, state in registry.status(group):
            style = "green" if state == "ok" else "red"
            table.add_row(group, plugin.name, plugin.dist, plugin.value, Text(plain(state), style=style))
    console.print(table)
