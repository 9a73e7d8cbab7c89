"""`comet`: the entry point. Imports no torch; each command imports what it needs."""

from __future__ import annotations

import sys

import typer

from comet_zoo.errors import CometError, CometRuntimeError

from . import compose as compose_cmd
from . import datasets as datasets_cmd
from . import demo as demo_cmd
from . import eval as eval_cmd
from . import hub as hub_cmd
from . import plugins as plugins_cmd
from . import train as train_cmd
from ._console import error_line, errors

app = typer.Typer(
    name="comet",
    help="Composable energy concepts: train, pull, compose and evaluate COMET models.",
    no_args_is_help=True,
    add_completion=True,   # comet --install-completion bash|zsh|fish|powershell
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # not "rich": the spec grammar MODEL[@VERSION]:… is not markup
)


def _version(value: bool) -> None:
    if value:
        from comet_zoo import __version__

        print(f"comet-zoo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Composable energy concepts: train, pull, compose and evaluate COMET models."""


app.command("train")(train_cmd.train)
app.command("plugins")(plugins_cmd.plugins)
app.add_typer(datasets_cmd.app, name="datasets")
app.command("pull")(hub_cmd.pull)
app.command("list")(hub_cmd.list_models)
app.command("card")(hub_cmd.card)
app.command("push")(hub_cmd.push)
app.command("rm")(hub_cmd.rm)
app.command("gallery")(hub_cmd.gallery)
app.command("eval")(eval_cmd.evaluate)
app.command("compose")(compose_cmd.compose)
app.command("decompose")(compose_cmd.decompose)
app.command("recombine")(compose_cmd.recombine)
app.command("demo")(demo_cmd.demo)


def _click_exceptions():
    """The exception classes Typer raises: its vendored Click (Typer >= 0.2x) or Click itself."""
    try:
        from typer._click import exceptions
    except ImportError:
        from click import exceptions
    return exceptions


def main() -> None:
    """Run the app; every user-facing failure ends as one line on stderr: exit 2 for a
    usage error, 1 for a runtime failure (CometRuntimeError)."""
    click = _click_exceptions()
    try:
        code = app(standalone_mode=False)
    except click.NoArgsIsHelpError as exc:
        print(exc.format_message())  # the help text, already rendered
        code = 0
    except click.UsageError as exc:  # bad option, value or command: one line, not a panel
        where = exc.ctx.command_path if exc.ctx else "comet"
        message = " ".join(exc.format_message().split())
        errors.print(error_line(f"{where}: {message} (see {where} --help)"), soft_wrap=True)
        code = 2
    except click.ClickException as exc:
        errors.print(error_line(" ".join(exc.format_message().split())), soft_wrap=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        errors.print("interrupted")
        code = 130
    except CometError as exc:  # 1: the world failed (corrupt file, network); 2: the command was wrong
        errors.print(error_line(exc), soft_wrap=True)
        code = 1 if isinstance(exc, CometRuntimeError) else 2
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
