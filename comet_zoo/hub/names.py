"""Model names and versions: `NAME[@vN]`, validated before any path is built from them."""

from __future__ import annotations

import re
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Spec:
    name: str
    version: str | None = None   # None: the newest

    def __str__(self) -> str:
        return f"{self.name}@{self.version}" if self.version else self.name


def parse_spec(text: str) -> Spec:
    """'clevr' or 'clevr@v2' → Spec; paths, URLs and anything else are refused."""
    if not isinstance(text, str):
        raise CometError(f"invalid model {text!r}")
    name, at, version = text.partition("@")
    if at and not version:
        raise CometError(f"invalid model {text!r}: a version follows '@', e.g. {name}@v1")
    return Spec(check_name(name), check_version(version) if at else None)
