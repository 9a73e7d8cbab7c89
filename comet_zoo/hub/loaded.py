"""Models kept loaded: each (model folder, device) is read once per process.

    loaded_model(snapshot, device) → COMET

The composer, the figures and the demo ask for the same few models again and again (the
demo on every click); reading safetensors and building the nets each time costs more than
a warm compose. A folder's entry is reused while its config.json and model.safetensors are
the same files (size, mtime, inode); at most MAX_LOADED models are held, least recently
used first out. Callers must not change a model's weights: it is shared.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

MAX_LOADED = 8

_loaded: OrderedDict[tuple, object] = OrderedDict()
_lock = threading.Lock()


def _fingerprint(folder: Path) -> tuple:
    stats = []
    for name in ("config.json", "model.safetensors"):
        try:
            st = (folder / name).stat()
        except OSError:
            return ()          # not loadable: COMET.load says why, and nothing is kept
        stats.append((st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(stats)


def loaded_model(snapshot: str | Path, device="cpu"):
    """The COMET model of a local folder on `device`, loaded once and then shared."""
    import torch

    from ..core.model import COMET

    folder = Path(snapshot).resolve()
    device = torch.device(device)
    key = (str(folder), str(device), _fingerprint(folder))
    with _lock:
        model = _loaded.get(key)
        if model is not None:
            _loaded.move_to_end(key)
            return model
        model = COMET.load(folder, device=device)
        if key[2]:
            _loaded[key] = model
            while len(_loaded) > MAX_LOADED:
                _loaded.popitem(last=False)
        return model


def forget() -> None:
    """Drop every kept model (tests; a process that wants its memory back)."""
    with _lock:
        _loaded.clear()
