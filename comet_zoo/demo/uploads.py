"""Images that arrive with a request: checked, then copied into the request's own folder.

An image field's value is whatever the client sent, not only what the page's upload
button makes. It is accepted in two forms and no other:

- a file Gradio's upload route stored: its path must lie, as written, inside Gradio's
  upload folder (nothing outside it is looked at, so a refusal says nothing about which
  server paths exist); it is read only if it is a regular file of at most
  `upload_bytes` (never a FIFO or a device, never through a link out of the folder);
- a `data:image/...;base64,` URL, whose length is checked before it is decoded.

Either way the header's width × height must be at most `upload_pixels` before any pixel
is decoded, and only PNG, JPEG, WebP, GIF and BMP are opened. The bytes are then written
into the request's temporary folder, and only that copy is passed on.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import stat
from pathlib import Path

from ..errors import CometError
from .limits import Limits

FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")


def upload_root() -> Path:
    """Gradio's upload folder (GRADIO_TEMP_DIR, else <tmp>/gradio), as an absolute, normalised path."""
    try:
        from gradio.utils import get_upload_folder
        folder = get_upload_folder()
    except ImportError:
        import tempfile
        folder = os.environ.get("GRADIO_TEMP_DIR") or os.path.join(tempfile.gettempdir(), "gradio")
    return Path(os.path.normpath(os.path.abspath(folder)))


def _not_an_upload(what: str) -> CometError:
    # One message for every path that is not a stored upload: existing or not, readable or not.
    return CometError(f"{what} is not an uploaded image; upload one with the page's image field")


def _mb(n: int) -> str:
    return f"{n / (1 << 20):g} MB"


def _from_upload(path: str, what: str, limits: Limits) -> bytes:
    root = upload_root()
    if "\x00" in path or not os.path.isabs(path):
        raise _not_an_upload(what)
    if not os.path.normpath(path).startswith(str(root) + os.sep):   # decided on the text alone: no file is touched
        raise _not_an_upload(what)
    real = os.path.realpath(path)            # links followed: it must still be inside the upload folder
    if not real.startswith(os.path.realpath(root) + os.sep):
        raise _not_an_upload(what)
    try:
        info = os.lstat(real)                # a FIFO, a device or an oversized file is refused unopened
    except OSError:
        raise _not_an_upload(what) from None
    if not stat.S_ISREG(info.st_mode):
        raise _not_an_upload(what)
    if info.st_size > limits.upload_bytes:
        raise CometError(f"{what} is larger than {_mb(limits.upload_bytes)}")
    try:
        # Non-blocking and checked again on the open descriptor: a file swapped for a FIFO
        # after the check cannot hold the worker either.
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        raise _not_an_upload(what) from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_an_upload(what)
        if info.st_size > limits.upload_bytes:
            raise CometError(f"{what} is larger than {_mb(limits.upload_bytes)}")
        data = f.read(limits.upload_bytes + 1)
    if len(data) > limits.upload_bytes:      # it grew after the check
        raise CometError(f"{what} is larger than {_mb(limits.upload_bytes)}")
    return data


def _from_data_url(url: str, what: str, limits: Limits) -> bytes:
    head, comma, payload = url.partition(",")
    if not comma or not head.startswith("data:image/") or not head.endswith(";base64"):
        raise CometError(f"{what}: a data: URL must be data:image/...;base64,...")
    # 4 base64 characters carry 3 bytes: refuse by length before decoding anything.
    if len(payload) > 4 * -(-limits.upload_bytes // 3) + 4:
        raise CometError(f"{what} is larger than {_mb(limits.upload_bytes)}")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise CometError(f"{what}: the data: URL is not valid base64") from None
    if len(data) > limits.upload_bytes:
        raise CometError(f"{what} is larger than {_mb(limits.upload_bytes)}")
    return data


def _check_header(data: bytes, what: str, limits: Limits) -> str:
    """The image's format, after its header says it is small enough (no pixel is decoded here)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as im:
            width, height, fmt = im.width, im.height, im.format
    except Image.DecompressionBombError:    # PIL's own bound (far above ours) refused it on the header
        raise CometError(f"{what} has more than the {limits.upload_pixels:,} pixels this demo accepts") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise CometError(f"{what} is not a PNG, JPEG, WebP, GIF or BMP image") from None
    if width * height > limits.upload_pixels:
        raise CometError(f"{what} has {width} × {height} pixels, more than the {limits.upload_pixels:,} pixels "
                         "this demo accepts")
    return fmt.lower()


def checked_image(value, what: str, limits: Limits, folder: Path) -> Path | None:
    """The request's image `value` as a private copy in `folder`, or None when none was sent.

    `value` is an image field's raw value: None, a file record ({"path": ..., "url": ...})
    or its path, or a data: URL."""
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, dict):
        url, path = value.get("url"), value.get("path")
        if isinstance(url, str) and url.startswith("data:"):
            data = _from_data_url(url, what, limits)
        elif isinstance(path, str) and path:
            data = _from_upload(path, what, limits)
        else:
            raise _not_an_upload(what)
    elif isinstance(value, str):
        data = _from_data_url(value, what, limits) if value.startswith("data:") else _from_upload(value, what, limits)
    else:
        raise _not_an_upload(what)
    suffix = _check_header(data, what, limits)
    copy = Path(folder) / f"image-{len(list(Path(folder).iterdir()))}.{suffix}"
    copy.write_bytes(data)
    return copy
