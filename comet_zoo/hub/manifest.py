"""The sha256 manifest of an artifact: `SHA256SUMS`, in the format of `sha256sum`.

Every file of an artifact but the manifest itself is listed as `<hex>  <path>`,
so `sha256sum -c SHA256SUMS` checks a snapshot without comet-zoo. A snapshot is
used only after every listed file matches; files the manifest does not list are
never copied into the cache.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .._io import MAX_CONFIG_BYTES, MAX_WEIGHTS_BYTES, open_regular, read_text
from ..errors import CometError, CometRuntimeError

MANIFEST = "SHA256SUMS"
REQUIRED = ("model.safetensors", "config.json", "README.md")
# Formats that unpickle or execute code on load: never part of an artifact.
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".h5", ".msgpack", ".npy", ".npz", ".joblib"}
_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")
_SAFE_PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")


def sha256_file(path: Path, chunk: int = 1 << 20, *, inside: Path | None = None) -> str:
    """The sha256 of a regular file (`inside`: a folder it must not leave through a link)."""
    digest = hashlib.sha256()
    with open_regular(path, MAX_WEIGHTS_BYTES, inside=inside) as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_path(rel: str, where: str) -> str:
    """A manifest entry must stay inside the snapshot: no '..', no absolute path, no odd names."""
    if not _SAFE_PATH.fullmatch(rel) or ".." in rel.split("/"):
        raise CometError(f"{where}: refused file name {rel!r} (a relative path inside the snapshot is required)")
    if Path(rel).suffix.lower() in PICKLE_SUFFIXES:
        raise CometError(f"{where}: {rel} is a pickle-format file; only safetensors weights are accepted")
    return rel


def parse(text: str, where: str) -> dict[str, str]:
    """`SHA256SUMS` text → {relative path: sha256 hex}, validating every line."""
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _LINE.match(line.strip())
        if not match:
            raise CometError(f"{where}: {MANIFEST} line {number} is not '<sha256>  <file>'")
        digest, rel = match.groups()
        entries[check_path(rel, where)] = digest
    missing = [name for name in REQUIRED if name not in entries]
    if missing:
        raise CometError(f"{where}: {MANIFEST} does not list {', '.join(missing)}")
    return entries


def write(directory: Path) -> Path:
    """Hash every file under `directory` (hidden ones excluded) into its SHA256SUMS."""
    files = sorted(p for p in directory.rglob("*")
                   if p.is_file() and p.name != MANIFEST
                   and not any(part.startswith(".") for part in p.relative_to(directory).parts))
    lines = []
    for path in files:
        rel = check_path(path.relative_to(directory).as_posix(), str(directory))
        lines.append(f"{sha256_file(path)}  {rel}\n")
    target = directory / MANIFEST
    target.write_text("".join(lines), encoding="utf-8")
    parse(target.read_text(encoding="utf-8"), str(directory))  # the result must be a valid artifact
    return target


def read(directory: Path) -> dict[str, str]:
    path = directory / MANIFEST
    if not path.is_file():
        raise CometError(f"{directory}: no {MANIFEST} manifest")
    try:
        text = read_text(path, MAX_CONFIG_BYTES, inside=directory)
    except (OSError, UnicodeDecodeError) as exc:
        raise CometRuntimeError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse(text, str(directory))


def verify(directory: Path, label: str | None = None) -> dict[str, str]:
    """Check every listed file of a snapshot; a CometError names the first bad file."""
    label = label or str(directory)
    entries = read(directory)
    for rel, digest in entries.items():
        path = directory / rel
        if not path.is_file():
            raise CometRuntimeError(f"{label}: {rel} is missing")
        if sha256_file(path, inside=directory) != digest:
            raise CometRuntimeError(f"{label}: {rel} does not match its sha256 in {MANIFEST} (corrupt or truncated)")
    return entries
