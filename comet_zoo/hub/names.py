"""Model references, one grammar for every command and API, validated before any path
is built from them:

    NAME[@vN]                    the one configured hub that publishes NAME (two: an error)
    bundled:NAME[@vN]            the zoo inside the installed package
    hf-hub:ORG/NAME[@vN]         repo ORG/NAME on the Hugging Face Hub (HF_ENDPOINT)
    file:///DIR/NAME[@vN]        a directory hub DIR
    ./runs/x/model, /abs/folder  a local model folder (a path: it has a '/' or starts with '.' or '~')
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import CometError

# Matched with fullmatch only: `$` after re.match also accepts a trailing newline, and
# leading zeros would give one version several spellings (v1, v01, v001): aliases that
# could be published beside the real one.
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
VERSION = re.compile(r"v([1-9][0-9]{0,5})")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise CometError(
            f"invalid model name {name!r}: use lowercase letters, digits and '-' (at most 64), starting with a letter or digit")
    return name


def check_version(version: str) -> str:
    if not isinstance(version, str) or not VERSION.fullmatch(version):
        raise CometError(f"invalid version {version!r}: versions are v1, v2, … (no leading zeros)")
    return version


def version_number(version: str) -> int:
    return int(check_version(version)[1:])


def sort_versions(versions) -> list[str]:
    """Oldest first, numerically (v10 after v9); names that are not versions are dropped."""
    return sorted({v for v in versions if VERSION.fullmatch(v)}, key=lambda v: int(v[1:]))


ORG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
SCHEMES = ("bundled:", "hf-hub:", "file://")   # the prefixes a qualified reference starts with


@dataclass(frozen=True)
class Ref:
    """A parsed model reference. `hub` is a hub URL (bundled, hf://ORG, file:///DIR) or
    None for a bare name; `path` is set (and nothing else) for a local model folder."""

    name: str = ""
    version: str | None = None   # None: the newest
    hub: str | None = None
    path: Path | None = None

    def with_version(self, version: str) -> "Ref":
        return Ref(self.name, version, self.hub, self.path)

    def __str__(self) -> str:
        if self.path is not None:  # still a path when parsed again: ./model, not model
            return str(self.path) if is_path(str(self.path)) else f".{os.sep}{self.path}"
        tail = f"{self.name}@{self.version}" if self.version else self.name
        return qualified(self.hub, tail) if self.hub else tail


def qualified(hub_url: str, tail: str) -> str:
    """The reference text of NAME[@vN] in the hub `hub_url`."""
    if hub_url == "bundled":
        return f"bundled:{tail}"
    if hub_url.startswith("hf://"):
        return f"hf-hub:{hub_url[len('hf://'):]}/{tail}"
    return f"{hub_url.rstrip('/')}/{tail}"


def _name_version(text: str, whole: str) -> tuple[str, str | None]:
    name, at, version = text.partition("@")
    if at and not version:
        raise CometError(f"invalid model {whole!r}: a version follows '@', e.g. {name}@v1")
    return check_name(name), (check_version(version) if at else None)


# What a file system accepts: 255 bytes per name (most of them), 4096 per path (Linux).
MAX_NAME_BYTES, MAX_PATH_BYTES = 255, 4096


def check_path_text(text: str) -> str:
    """A path given as text must be one the file system can take: no NUL, no name too long.
    A Path that is not relative or absolute text (a str subclass, bytes) is refused too."""
    if not isinstance(text, str):
        raise CometError(f"invalid path {text!r}: expected text")
    if "\0" in text:
        raise CometError(f"invalid path {text!r}: it contains a NUL character")
    try:
        encoded = os.fsencode(text)
    except UnicodeError:
        raise CometError(f"invalid path {text!r}: not encodable for this file system") from None
    if len(encoded) > MAX_PATH_BYTES or any(len(part) > MAX_NAME_BYTES for part in encoded.split(b"/")):
        raise CometError(f"invalid path {text[:60]!r}…: too long for a file name "
                         f"(at most {MAX_NAME_BYTES} bytes a name, {MAX_PATH_BYTES} a path)")
    return text


def is_path(text: str) -> bool:
    """A local folder rather than a name: it has a '/' (or the OS separator) or starts with '.' or '~'."""
    return not text.startswith(SCHEMES) and (
        "/" in text or os.sep in text or text.startswith((".", "~")))


def parse_ref(text: str) -> Ref:
    """Any model reference (see the module doc) → Ref; anything else is refused with the grammar."""
    if not isinstance(text, str) or not text:
        raise CometError(f"invalid model {text!r}")
    if text != text.strip():
        raise CometError(f"invalid model name {text!r}: a reference has no leading or trailing spaces or line breaks")
    if text.startswith("bundled:"):
        return Ref(*_name_version(text[len("bundled:"):], text), hub="bundled")
    if text.startswith("hf-hub:"):
        org, slash, rest = text[len("hf-hub:"):].partition("/")
        if not slash or not ORG.fullmatch(org):
            raise CometError(f"invalid model {text!r}: expected hf-hub:ORG/NAME[@vN]")
        return Ref(*_name_version(rest, text), hub=f"hf://{org}")
    if text.startswith("file://"):
        directory, slash, rest = text[len("file://"):].rpartition("/")
        if not slash or not directory.startswith("/"):
            raise CometError(f"invalid model {text!r}: expected file:///DIR/NAME[@vN] (an absolute DIR)")
        check_path_text(directory)
        return Ref(*_name_version(rest, text), hub=f"file://{directory}")
    if is_path(text):
        check_path_text(text)
        try:
            return Ref(path=Path(text).expanduser())
        except RuntimeError:  # `~user/…` for a user this machine does not know
            raise CometError(f"invalid model {text!r}: no home directory for {text.split('/')[0]!r}") from None
    if not NAME.fullmatch(text.partition("@")[0]):
        raise CometError(f"invalid model {text!r}: expected NAME[@vN] (lowercase letters, digits, '-'), "
                         "bundled:NAME, hf-hub:ORG/NAME, file:///DIR/NAME or a model folder such as ./runs/x/model")
    return Ref(*_name_version(text, text))
