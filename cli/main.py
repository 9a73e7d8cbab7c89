"""`comet`: the entry point. Imports no torch; each command imports what it needs."""

from __future__ import annotations

import sys

import typer

from comet_zoo.errors import CometError

from . import compose as compose_cmd
from . import hub as hub_cmd
from . import datasets as datasets_cmd
from . import eval as eval_cmd
from . import plugins as plugins_cmd
from . import train as train_cmd
from ._console import errors

app = typer.Typer(
    name="comet",
    help="Composable energy concepts: train, pull, compose and evaluate COMET models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.command("train")(train_cmd.train)
app.command("plugins")(plugins_cmd.plugins)
app.add_typer(datasets_cmd.app, name="datasets")
app.command("pull")(hub_cmd.pull)
app.command("list")(hub_cmd.list_models)
app.command("card")(hub_cmd.card)
app.command("push")(hub_cmd.push)
app.command("rm")(hub_cmd.rm)
app.command("eval")(eval_cmd.evaluate)
app.command("compose")(compose_cmd.compose)
app.command("decompose")(compose_cmd.decompose)
app.command("recombine")(compose_cmd.recombine)


def main() -> None:
    try:
        app()
    except CometError as exc:
        errors.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        errors.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
