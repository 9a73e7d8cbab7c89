"""`comet gallery -o DIR`: a static HTML site of the zoo, built from the concept cards.

    DIR/index.html          one row per model: first exemplar, concepts, data set, headline metric
    DIR/NAME/index.html     the model's card (concepts with exemplars, figures, metrics beside
                            their baselines, recipe, machine, wall time), with its pictures

A card comes from a hub, so it is untrusted text: markdown is rendered with raw HTML
escaped, and link targets other than http(s), relative paths and anchors are dropped
(markdown-it's own check). Only the files the card's manifest lists are copied.
"""

from __future__ import annotations

import html
import re
import shutil
import tempfile
from pathlib import Path

from .errors import CometError

MARKER = ".comet-gallery"    # a folder holding it is a gallery and may be rebuilt in place
STYLE = """
body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:middle}
img{image-rendering:pixelated;max-width:100%}td img{width:64px}code{background:#f4f4f4;padding:1px 3px}
nav a{margin-right:1em}
"""


def _page(title: str, body: str, home: str = "") -> str:
    nav = f'<nav><a href="{home}index.html">comet-zoo gallery</a></nav>' if home else ""
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{nav}\n{body}\n</body></html>\n")


def _markdown(text: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def slug(ref: str) -> str:
    """A folder name for a model reference (qualified ones carry ':' and '/')."""
    return re.sub(r"[^a-z0-9.-]+", "_", ref.lower()).strip("_") or "model"


def model_page(snapshot: Path, folder: Path, home: str = "../"):
    """Write FOLDER/index.html (the card) and copy the snapshot's pictures beside it;
    returns (the page, the parsed card)."""
    from .hub import manifest
    from .hub.cards import read_card

    info = read_card(snapshot)
    folder.mkdir(parents=True, exist_ok=True)
    for rel in manifest.read(snapshot):
        if rel.lower().endswith((".png", ".gif")):
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(snapshot / rel, folder / rel)
    page = folder / "index.html"
    page.write_text(_page(f"{info.name}@{info.version}", _markdown(info.text), home), encoding="utf-8")
    return page, info


def _headline(metrics: dict[str, float]) -> str:
    if "fg_ari" in metrics:
        stripes = metrics.get("fg_ari_stripes")
        return f"fg-ARI {metrics['fg_ari']:.3f}" + (f" (stripes {stripes:.3f})" if stripes is not None else "")
    if "mig" in metrics:
        return f"MIG {metrics['mig']:.3f}"
    return f"MSE {metrics['mse']:.4f}" if "mse" in metrics else "-"


def build(out: str | Path, refs: list[str] | None = None) -> Path:
    """The site for `refs` (default: every model of the configured hubs), written into `out`
    as a whole: built in a temporary folder, then moved into place."""
    from . import hub

    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise CometError(f"{out} exists and is not a comet gallery; choose a new or empty folder")
    if refs is None:
        refs = [e.ref for e in hub.catalog() if e.configured]
    if not refs:
        raise CometError("no models to show: check COMET_HUB or the hubs in the config file")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        rows = []
        for ref in refs:
            name = slug(ref)
            _, info = model_page(hub.resolve(ref), tmp / name)   # the card is parsed once
            thumb = f'<img src="{name}/{html.escape(info.exemplars[0])}" alt="">' if info.exemplars else ""
            concepts = ", ".join(c.name for c in info.concepts)
            rows.append(f'<tr><td>{thumb}</td><td><a href="{name}/index.html">{html.escape(ref)}</a> '
                        f'{html.escape(info.version)}</td><td>{html.escape(info.title)}</td>'
                        f'<td>{html.escape(concepts)}</td><td>{html.escape(info.dataset or "-")}</td>'
                        f'<td>{html.escape(_headline(info.metrics))}</td></tr>')
        table = ("<table><tr><th></th><th>model</th><th>title</th><th>concepts</th><th>data set</th>"
                 "<th>headline</th></tr>\n" + "\n".join(rows) + "</table>")
        intro = ("<h1>comet-zoo gallery</h1><p>Composable energy concepts (COMET, Du et al., NeurIPS 2021). "
                 "Each page is a model's concept card: concepts with exemplars, figures, metrics beside their "
                 "baselines, recipe, machine and wall time.</p>")
        (tmp / "index.html").write_text(_page("comet-zoo gallery", intro + table), encoding="utf-8")
        (tmp / MARKER).write_text("built by comet gallery\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out / "index.html"
