"""MkDocs hook: the CLI reference page, generated at build time from the Typer app itself.

Nothing of the page is written by hand, so it cannot drift from `comet --help`: every
command, its usage line, its docstring and each argument and option with its help and
default come from the Click command tree that Typer builds for `comet`.
"""

from __future__ import annotations

import typer
from mkdocs.structure.files import File

PAGE = "reference/cli.md"


def _plain(text: str) -> str:
    """Help text as literal Markdown: `[@SOURCE][*WEIGHT]` is grammar, not a link reference."""
    return text.replace("[", "\\[").replace("]", "\\]")


def _cell(text: str) -> str:
    """One Markdown table cell: no pipes, no line breaks."""
    return " ".join(_plain(text).replace("|", "\\|").split())


def _section(command, ctx, path: str, depth: int) -> list[str]:
    lines = [f"{'#' * depth} `{path}`", ""]
    if command.help:
        lines += [_plain(command.help.strip()), ""]
    lines += ["```text", command.get_usage(ctx).strip(), "```", ""]
    rows = [param.get_help_record(ctx) for param in command.get_params(ctx)
            if not getattr(param, "hidden", False)]
    rows = [row for row in rows if row]
    if rows:
        lines += ["| argument or option | meaning |", "|---|---|"]
        lines += [f"| `{' '.join(decl.split())}` | {_cell(help_text)} |" for decl, help_text in rows]
        lines.append("")
    for name in getattr(command, "commands", {}):   # a group: its subcommands, one level deeper
        sub = command.commands[name]
        if getattr(sub, "hidden", False):
            continue
        sub_ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
        lines += _section(sub, sub_ctx, f"{path} {name}", min(depth + 1, 4))
    return lines


def cli_markdown() -> str:
    """The whole reference as Markdown: the root command, then every command in app order."""
    from comet_zoo.cli.main import app

    root = typer.main.get_command(app)
    ctx = root.make_context("comet", [], resilient_parsing=True)
    intro = ["# CLI reference", "",
             "Generated from the `comet` application when this site is built: the same text as "
             "`comet COMMAND --help`.", ""]
    return "\n".join(intro + _section(root, ctx, "comet", 2)) + "\n"


def on_files(files, config):
    files.append(File.generated(config, PAGE, content=cli_markdown()))
    return files
