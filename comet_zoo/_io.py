"""Atomic file writes: a temporary file in the target folder, then a rename.

File-system failures (a read-only folder, /proc, a full disk) become one-line
CometRuntimeErrors that name the path, and nothing half-written is left behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .errors import CometError, CometRuntimeError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _cannot_write(path: Path, exc: OSError) -> CometRuntimeError:
    return CometRuntimeError(f"cannot write {path}: {exc.strerror or exc}")


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path next to `path`; on success it replaces `path` atomically."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as exc:  # ENOSPC, EFBIG, EISDIR … while writing or renaming
        raise _cannot_write(path, exc) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def check_writable(path: str | Path, suffix: str | None = None) -> Path:
    """Before any work: `path` can be written (not a folder; its folder exists or can be made,
    and accepts a new file), so a long run never fails at its last step."""
    path = Path(path)
    if path.is_dir():
        raise CometError(f"{path} is a folder; give a file name ending in {suffix or 'an extension'}")
    if suffix is not None and path.suffix.lower() != suffix:
        raise CometError(f"{path} must end in {suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    return path
