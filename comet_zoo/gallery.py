"""`comet gallery -o DIR`: a static HTML site of the zoo, built from the concept cards.

    DIR/index.html          one row per model: first exemplar, concepts, data set, headline metric
    DIR/NAME/index.html     the model's card (concepts with exemplars, figures, metrics beside
                            their baselines, recipe, machine, wall time), with its pictures

A card comes from a hub, so it is untrusted text: control and Unicode format characters
are written as escapes (`_text.visible`), markdown is rendered with raw HTML escaped, and
link targets other than http(s), relative paths and anchors are dropped (markdown-it's
own check). Only the pictures the card's manifest lists are copied, and only regular
files inside the snapshot (a link to the user's own files is refused, never published).

DIR is the user's: the site is written into a folder that is new, empty, or a gallery
built before (its MARKER lists the files the gallery wrote). The site is built in a
hidden staging folder inside DIR, then moved into place file by file: only the
gallery's own files are replaced or removed, a user's file is never touched (a path the
gallery needs that holds a user's file is refused), and a staging folder left by a
killed build goes at the next one. Pages and folders get the usual permissions
(readable by a web server running as another user).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from ._io import MAX_IMAGE_BYTES, atomic_path, copy_regular
from ._text import visible, visible_html
from .errors import CometError, CometRuntimeError

MARKER = ".comet-gallery"             # JSON {"files": [paths the gallery wrote]}: the folder is a gallery
STAGING = ".comet-gallery-staging-"   # where a build is assembled, inside the output folder
STYLE = """
body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:middle}
img{image-rendering:pixelated;max-width:100%}td img{width:64px}code{background:#f4f4f4;padding:1px 3px}
nav a{margin-right:1em}
"""


def _page(title: str, body: str, home: str = "") -> str:
    nav = f'<nav><a href="{home}index.html">comet-zoo gallery</a></nav>' if home else ""
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{visible_html(title)}</title>"
            f"<style>{STYLE}</style></head><body>{nav}\n{body}\n</body></html>\n")


def _markdown(text: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(visible(text, multiline=True))


def slug(ref: str) -> str:
    """A folder name for a model reference (qualified ones carry ':' and '/'); a long one is
    cut and told apart by a hash, so that any reference gives a valid file name."""
    name = re.sub(r"[^a-z0-9.-]+", "_", str(ref).lower()).strip("_.") or "model"
    if len(name) > 80:
        name = f"{name[:60]}-{hashlib.sha256(str(ref).encode('utf-8', 'surrogatepass')).hexdigest()[:16]}"
    return name


def _cannot_write(path: Path, exc: OSError) -> CometRuntimeError:
    return CometRuntimeError(f"cannot write {path}: {exc.strerror or exc}")


def model_page(snapshot: Path, folder: Path, home: str = "../"):
    """Write FOLDER/index.html (the card) and copy the snapshot's pictures beside it;
    returns (the page, the parsed card)."""
    from .hub import manifest
    from .hub.cards import read_card

    info = read_card(snapshot)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cannot_write(folder, exc) from None
    for rel in manifest.read(snapshot):
        if rel.lower().endswith((".png", ".gif")):
            copy_regular(snapshot / rel, folder / rel, MAX_IMAGE_BYTES, inside=snapshot)
    page = folder / "index.html"
    with atomic_path(page) as tmp:
        tmp.write_text(_page(f"{info.name}@{info.version}", _markdown(info.text), home), encoding="utf-8")
    return page, info


def _headline(metrics: dict[str, float]) -> str:
    if "fg_ari" in metrics:
        stripes = metrics.get("fg_ari_stripes")
        return f"fg-ARI {metrics['fg_ari']:.3f}" + (f" (stripes {stripes:.3f})" if stripes is not None else "")
    if "mig" in metrics:
        return f"MIG {metrics['mig']:.3f}"
    return f"MSE {metrics['mse']:.4f}" if "mse" in metrics else "-"


# -- the output folder ------------------------------------------------------------------
def _owned(out: Path) -> set[str] | None:
    """The files an earlier build recorded in MARKER; None for a marker without a list (a
    gallery from before the list was kept: its files are replaced, none is removed)."""
    try:
        files = json.loads((out / MARKER).read_text(encoding="utf-8"))["files"]
        return {f for f in files if isinstance(f, str)}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _check_target(out: Path) -> None:
    """`out` is new, empty (staging leftovers aside) or a gallery built before."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise CometError(f"{out} exists and is not a folder; choose a new or empty folder")
    if not out.is_dir() or (out / MARKER).is_file():
        return
    try:
        others = [p.name for p in out.iterdir() if not p.name.startswith(STAGING)]
    except OSError as exc:
        raise CometRuntimeError(f"cannot read {out}: {exc.strerror or exc}") from None
    if others:
        raise CometError(f"{out} holds files that comet gallery did not write ({', '.join(sorted(others)[:3])}"
                         f"{', …' if len(others) > 3 else ''}); choose a new or empty folder")


def _write_marker(out: Path, files: set[str]) -> None:
    with atomic_path(out / MARKER) as tmp:
        tmp.write_text(json.dumps({"built_by": "comet gallery", "files": sorted(files)}, indent=1) + "\n",
                       encoding="utf-8")


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _move_into(staging: Path, out: Path) -> None:
    """Move the staged site into `out`: the gallery's own files replaced, the user's never."""
    new = set(_files(staging))
    before = _owned(out)
    for rel in sorted(new):
        target = out / rel
        mine = before is None or rel in before
        if (target.exists() or target.is_symlink()) and (not mine or not target.is_file() or target.is_symlink()):
            raise CometError(f"{target} is in the way: comet gallery did not write it and does not replace it; "
                             "move it, or choose a new or empty folder")
    # The marker lists every file that may be ours before any moves: a build killed half-way
    # leaves a folder that the next build still recognises and completes.
    _write_marker(out, new | (before or set()))
    for rel in sorted(new):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / rel, out / rel)
    for rel in sorted((before or set()) - new):   # pages of models no longer shown
        old = out / rel
        if old.is_file() and not old.is_symlink():
            old.unlink()
        for parent in old.parents:                  # folders it leaves empty, up to `out`
            if parent == out or not parent.is_relative_to(out):
                break
            try:
                parent.rmdir()
            except OSError:
                break
    _write_marker(out, new)


def build(out: str | Path, refs: list[str] | None = None) -> Path:
    """The site for `refs` (default: every model of the configured hubs), written into `out`
    (new, empty, or a gallery built before). With the default, a model whose card cannot be
    read gets a row that says why; a model named in `refs` must be shown."""
    from . import hub

    if not isinstance(out, (str, os.PathLike)):
        raise CometError(f"the gallery's folder is a path, got {out!r:.60}")
    out = Path(out)
    _check_target(out)
    every = refs is None
    if every:
        refs = [e.ref for e in hub.catalog() if e.configured]
    if not refs:
        raise CometError("no models to show: check COMET_HUB or the hubs in the config file")
    try:
        out.mkdir(parents=True, exist_ok=True)
        for stale in out.glob(f"{STAGING}*"):   # a build killed before it cleaned up
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING, dir=out))
    except OSError as exc:
        raise _cannot_write(out, exc) from None
    try:
        rows = []
        for ref in refs:
            name = slug(ref)
            try:
                _, info = model_page(hub.resolve(ref), staging / name)   # the card is parsed once
            except CometError as exc:
                if not every:
                    raise
                rows.append(f"<tr><td></td><td>{visible_html(ref)}</td><td colspan=\"4\">not shown: "
                            f"{visible_html(exc)}</td></tr>")
                continue
            thumb = f'<img src="{name}/{visible_html(info.exemplars[0])}" alt="">' if info.exemplars else ""
            concepts = ", ".join(c.name for c in info.concepts)
            rows.append(f'<tr><td>{thumb}</td><td><a href="{name}/index.html">{visible_html(ref)}</a> '
                        f'{visible_html(info.version)}</td><td>{visible_html(info.title)}</td>'
                        f'<td>{visible_html(concepts)}</td><td>{visible_html(info.dataset or "-")}</td>'
                        f'<td>{visible_html(_headline(info.metrics))}</td></tr>')
        table = ("<table><tr><th></th><th>model</th><th>title</th><th>concepts</th><th>data set</th>"
                 "<th>headline</th></tr>\n" + "\n".join(rows) + "</table>")
        intro = ("<h1>comet-zoo gallery</h1><p>Composable energy concepts (COMET, Du et al., NeurIPS 2021). "
                 "Each page is a model's concept card: concepts with exemplars, figures, metrics beside their "
                 "baselines, recipe, machine and wall time.</p>")
        (staging / "index.html").write_text(_page("comet-zoo gallery", intro + table), encoding="utf-8")
        _move_into(staging, out)
    except OSError as exc:   # a full disk, a folder made read-only
        raise _cannot_write(Path(exc.filename) if getattr(exc, "filename", None) else out, exc) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out / "index.html"
