"""File access at the edges: atomic writes, and reads of regular files of bounded size.

Writes go to a temporary file in the target folder, then a rename. File-system failures
(a read-only folder, /proc, a full disk) become one-line CometRuntimeErrors that name the
path, and nothing half-written is left behind. Reads of files that someone else supplied
(`open_regular`) refuse FIFOs, devices, oversized files and links out of their folder.
"""

from __future__ import annotations

import contextlib
import os
import stat
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


# -- reading: regular files only, of a bounded size -----------------------------------
# A model folder or a hub snapshot is someone else's: a FIFO or a device in it would block
# `open()` for ever, a 300 MB README would be read whole, and a symbolic link could point
# at the user's own files (which `comet gallery` would then publish). Every file read from
# one goes through `open_regular`.
MiB = 1 << 20
MAX_CARD_BYTES = 2 * MiB       # README.md concept cards and card sources (the zoo's: about 10 KB)
MAX_CONFIG_BYTES = 1 * MiB     # config.json, recipes, SHA256SUMS, eval reports (about 2 KB)
MAX_IMAGE_BYTES = 32 * MiB     # PNG / JPEG source images, exemplars and figures
MAX_WEIGHTS_BYTES = 16 << 30   # one safetensors file


def _refused(path: Path, why: str) -> CometError:
    return CometError(f"{path}: refused, {why}")


def _within(real: str, top: str) -> bool:
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def _inside(path: Path, root: str | Path) -> None:
    """`path`, every link followed, must stay inside `root` (a model folder, a snapshot).
    A snapshot of huggingface_hub's cache (REPO/snapshots/REV/) links its files into the
    repository's own REPO/blobs/: that one folder counts as inside too."""
    real, top = os.path.realpath(path), os.path.realpath(root)
    if _within(real, top):
        return
    parent = os.path.dirname(top)
    if os.path.basename(parent) == "snapshots" and _within(real, os.path.join(os.path.dirname(parent), "blobs")):
        return
    raise _refused(path, f"it is a link to a file outside {root}")


def check_regular(path: str | Path, limit: int, *, inside: str | Path | None = None) -> os.stat_result:
    """Refuse `path` unless it is a regular file of at most `limit` bytes (a FIFO, a device,
    a folder or a socket is refused without being opened) and, with `inside`, stays there
    once its links are followed. OSError (a missing file) is left to the caller."""
    path = Path(path)
    if inside is not None:
        _inside(path, inside)
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise _refused(path, "not a regular file (a folder, FIFO, device or socket)")
    if info.st_size > limit:
        raise _refused(path, f"{info.st_size:,} bytes, more than the {limit:,} allowed")
    return info


def open_regular(path: str | Path, limit: int, *, inside: str | Path | None = None):
    """`path` opened for binary reading, after `check_regular`. It is opened non-blocking and
    checked again on the open descriptor, so a file swapped for a FIFO in between cannot
    block either."""
    path = Path(path)
    check_regular(path, limit, inside=inside)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            raise _refused(path, "it changed into something other than a regular file of the allowed size")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | Path, limit: int, *, inside: str | Path | None = None) -> bytes:
    """The whole of a regular file of at most `limit` bytes (see `open_regular`)."""
    with open_regular(path, limit, inside=inside) as f:
        data = f.read(limit + 1)
    if len(data) > limit:   # it grew after the check
        raise _refused(Path(path), f"more than the {limit:,} bytes allowed")
    return data


def read_text(path: str | Path, limit: int, *, inside: str | Path | None = None) -> str:
    """`read_bytes` decoded as UTF-8 (UnicodeDecodeError is left to the caller)."""
    return read_bytes(path, limit, inside=inside).decode("utf-8")


def copy_regular(src: str | Path, dest: str | Path, limit: int, *, inside: str | Path | None = None) -> Path:
    """Copy a regular file of at most `limit` bytes (see `open_regular`) to `dest`, atomically."""
    with open_regular(src, limit, inside=inside) as fin, atomic_path(dest) as tmp:
        with open(tmp, "wb") as fout:
            copied = 0
            while block := fin.read(MiB):
                copied += len(block)
                if copied > limit:
                    raise _refused(Path(src), f"more than the {limit:,} bytes allowed")
                fout.write(block)
    return Path(dest)
