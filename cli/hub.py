"""`comet pull / list / card / push / rm`: the zoo hub, one function per command."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._console import console, plain


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return "-"


def _concepts(names: list[str]) -> str:
    """light0, obj0, obj1, obj2, obj3 → light0, obj0…obj3 (runs of one prefix, consecutive numbers)."""
    import re

    out: list[list] = []
    for name in names:
        m = re.match(r"^(.*?)(\d+)$", name)
        prefix, n = (m.group(1), int(m.group(2))) if m else (name, None)
        if out and n is not None and out[-1][0] == prefix and out[-1][2] == n - 1:
            out[-1][2] = n
        else:
            out.append([prefix, n, n])
    return ", ".join(p if a is None else f"{p}{a}" if a == b else f"{p}{a}…{p}{b}" for p, a, b in out) or "-"


REF_HELP = "NAME[@vN], bundled:NAME, hf-hub:ORG/NAME[@vN] or file:///DIR/NAME[@vN]"


def pull(model: str = typer.Argument(..., help=f"{REF_HELP}; e.g. clevr or clevr@v5.")) -> None:
    """Download a model into the local cache and verify every file (sha256)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from comet_zoo import hub
    from comet_zoo.errors import CometError
    from comet_zoo.hub.names import parse_ref

    ref = parse_ref(model)
    if ref.path is not None:
        raise CometError(f"{model} is a local folder; pull takes a hub model ({REF_HELP})")
    ref, _ = hub.locate(ref)
    columns = (TextColumn(f"pull {plain(ref)}", style="bold", markup=False), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("pull", total=None)
        path = hub.resolve(ref, on_start=lambda total: progress.update(task, total=total),
                           on_bytes=lambda n: progress.advance(task, n))
    console.print(f"{plain(ref)} → {plain(path)}", highlight=False)


def list_models(versions: bool = typer.Option(False, "--versions", help="One row per version.")) -> None:
    """Models of the configured hubs and the cache: versions, concepts, data set, size, pulled."""
    from rich.table import Table

    from comet_zoo import hub
    from comet_zoo.hub.names import sort_versions

    entries = hub.catalog()
    table = Table(title="comet-zoo models", caption=plain(f"hubs: {', '.join(hub.hub_urls())}"))
    # Names and data sets are handles to type: never truncated.
    table.add_column("name", no_wrap=True, min_width=max([len(e.ref) for e in entries] + [4]))
    table.add_column("version" if versions else "versions", no_wrap=not versions, min_width=7)
    table.add_column("concepts", min_width=9)
    if not versions:  # a version row is about where it comes from: the hub takes the data set's place
        table.add_column("dataset", no_wrap=True, min_width=max([len(e.dataset or "-") for e in entries] + [7]))
    for column in ("size", "pulled"):
        table.add_column(column, no_wrap=True)
    if versions:
        table.add_column("hub", overflow="fold")
    for e in entries:
        concepts = _concepts(e.concepts)
        if versions:
            for v in reversed(sort_versions(e.versions)):
                size = _size(e.size) if v == e.newest else "-"
                where = e.hub if e.versions[v] else f"{e.hub} (cache only)"
                table.add_row(plain(e.ref), v, concepts if v == e.newest else "", size,
                              "yes" if v in e.pulled else "no", plain(where))
        else:
            all_v = sort_versions(e.versions)
            table.add_row(plain(e.ref), ", ".join(all_v), concepts, plain(e.dataset or "-"), _size(e.size),
                          ", ".join(e.pulled) if e.pulled else "no")
    if not entries:
        console.print("no models: check COMET_HUB or the hubs in the config file")
        return
    console.print(table)


def card(
    model: str = typer.Argument(..., help=f"{REF_HELP}, or a model folder."),
    open_page: bool = typer.Option(False, "--open", help="Open the card as a web page, pictures included."),
) -> None:
    """Show a model's concept card (pulled into the cache when needed)."""
    import re

    from rich.markdown import Markdown

    from comet_zoo import hub

    if open_page:
        import webbrowser

        from comet_zoo.gallery import model_page, slug

        page, _ = model_page(hub.resolve(model), hub.home() / "gallery" / slug(model), home="")
        console.print(f"card page → {plain(page)}", highlight=False)
        webbrowser.open(page.as_uri())
        return
    info = hub.card(model)
    # A terminal shows no pictures: each image becomes its path inside the snapshot.
    text = re.sub(r"!\[([^\]]*)\]\(([^)\s]+)\)", r"`\2`", plain(info.text, multiline=True))
    console.print(Markdown(text, hyperlinks=False))   # a card's link target is shown, never hidden behind its text
    console.print(f"files: {plain(info.snapshot)}")


def push(
    directory: Path = typer.Argument(..., help="Model folder (model.safetensors + config.json), e.g. runs/x/model."),
    name: str = typer.Option(..., "--as", help="Model name: lowercase letters, digits, '-'."),
    version: str = typer.Option(..., "--version", help="v1, v2, …; a published version never changes."),
    hub_url: Optional[str] = typer.Option(None, "--hub", help="file://DIR or hf://ORG; default: the configured push hub."),
    card_source: Optional[Path] = typer.Option(None, "--card", help="Card source YAML; default cards/NAME.yaml if present."),
    fp16: bool = typer.Option(False, "--fp16", help="Store the weights as float16 (half the size)."),
    eval_json: Optional[Path] = typer.Option(None, "--eval", help="A `comet eval --json` report of this model: its metrics go on the card."),
) -> None:
    """Publish a trained model as a versioned artifact with a generated concept card."""
    import json

    from comet_zoo import publish
    from comet_zoo.errors import CometError

    report = None
    if eval_json is not None:
        from comet_zoo._io import MAX_CONFIG_BYTES, read_bytes

        try:
            report = json.loads(read_bytes(eval_json, 16 * MAX_CONFIG_BYTES))
        except (OSError, ValueError) as exc:
            raise CometError(f"cannot read eval report {eval_json}: {getattr(exc, 'strerror', None) or exc}") from None

    if card_source is None and Path("cards", f"{name}.yaml").is_file():
        card_source = Path("cards", f"{name}.yaml")
    with console.status(f"building {name}@{version} (exemplars, metrics, card)"):
        where = publish.push(directory, name, version, hub=hub_url, card_source=card_source, fp16=fp16, eval_report=report)
    console.print(f"pushed {name}@{version} → {plain(where)}", highlight=False)
    from comet_zoo import hub
    from comet_zoo.hub.names import qualified

    target = hub.push_hub(hub_url).url
    others = [b.url for b in hub.hubs() if b.url != target and name in b.names()]
    if others:  # a bare name never merges hubs: say so now rather than at the next compose
        console.print(plain(f"note: {', '.join(others)} also publishes {name}; the bare name {name} is ambiguous "
                            f"while both are configured: use {qualified(target, name)}"), highlight=False)


def rm(model: str = typer.Argument(..., help="NAME (every hub's cached copies) or NAME@vN; a qualified name for one hub's.")) -> None:
    """Remove a model from the local cache (hubs are not touched)."""
    from comet_zoo import hub

    for removed in hub.remove(model):
        console.print(f"removed {plain(removed)} from {plain(hub.models_dir())}", highlight=False)


def gallery(
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the site (new, empty, or a gallery built before)."),
    models: Optional[list[str]] = typer.Argument(None, help="Models to show; default: every model of the configured hubs."),
) -> None:
    """A static HTML site of the zoo: an index and one page per model card."""
    from comet_zoo.gallery import build

    with console.status("building the gallery"):
        index = build(out, models or None)
    console.print(f"gallery → {plain(index)}", highlight=False)
