"""The hub's read path: `name@version` → a verified local snapshot; the cache and the hub order.

    resolve("clevr@v1")  → Path of COMET_HOME/models/clevr/v1, every file checked
    load_model("clevr")  → COMET of the newest version
    card("clevr")        → the parsed concept card

Publishing (`comet_zoo.publish.push`) sits above this package: reading a model never
imports the artifact builder or the evaluation it runs.

Hubs are tried in the configured order (COMET_HUB, else the config file's
`hubs`, else bundled then COMET_HOME/hub): `NAME` alone means the newest version
any hub (or the cache) knows; `NAME@vN` comes from the first hub that has it.
A pull downloads into a temporary folder beside its final place, verifies every
file against SHA256SUMS, and renames it into place under a file lock, so
concurrent pulls end with one good copy and a failed pull leaves nothing.
"""

from __future__ import annotations

import difflib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import CometError, CometRuntimeError
from . import manifest
from .backends import DirHub, HfHub, hf_offline, open_hub
from .names import NAME, Spec, check_name, check_version, parse_spec, sort_versions

CONFIG_FILE = "config.toml"


# -- locations and configuration -------------------------------------------------
def home() -> Path:
    """COMET_HOME, else the user's cache folder (XDG_CACHE_HOME or ~/.cache on Linux/macOS)."""
    if os.environ.get("COMET_HOME"):
        return Path(os.environ["COMET_HOME"]).expanduser().resolve()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "comet-zoo"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "comet-zoo"


def config_path() -> Path:
    if os.environ.get("COMET_CONFIG"):
        return Path(os.environ["COMET_CONFIG"]).expanduser()
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config").expanduser() / "comet-zoo" / CONFIG_FILE


def _config() -> dict:
    path = config_path()
    if not path.is_file():
        return {}
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        raise CometError(f"{path}: reading the config file needs Python >= 3.11; set COMET_HUB instead") from None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CometError(f"cannot read config {path}: {exc}") from None
    for key in ("hubs", "push"):
        value = data.get(key)
        if value is not None and not (isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))):
            raise CometError(f"{path}: '{key}' must be a hub URL or a list of hub URLs")
    return data


def default_local_hub() -> str:
    return f"file://{home() / 'hub'}"


def hub_urls() -> list[str]:
    """The configured order of hubs: COMET_HUB (comma-separated) > config file > built-in default."""
    env = os.environ.get("COMET_HUB", "").strip()
    if env:
        urls = [u.strip() for u in env.split(",") if u.strip()]
    else:
        value = _config().get("hubs")
        urls = [value] if isinstance(value, str) else list(value or ["bundled", default_local_hub()])
    return urls


def hubs(include_offline: bool = False) -> list:
    """Backends in order; hf:// hubs are skipped while HF_HUB_OFFLINE is set."""
    backends = [open_hub(url) for url in hub_urls()]
    if hf_offline() and not include_offline:
        backends = [b for b in backends if not isinstance(b, HfHub)]
    return backends


def push_hub(url: str | None = None):
    """Where `push` publishes: --hub, else the config file's `push`, else the first file:// hub, else COMET_HOME/hub."""
    if url:
        return open_hub(url)
    configured = _config().get("push")
    if isinstance(configured, str):
        return open_hub(configured)
    for backend in hubs(include_offline=True):
        if isinstance(backend, DirHub) and backend.writable:
            return backend
    return open_hub(default_local_hub())


# -- the cache ----------------------------------------------------------------------
def models_dir() -> Path:
    return home() / "models"


def cached_path(name: str, version: str) -> Path:
    return models_dir() / check_name(name) / check_version(version)  # validated: stays inside the cache


def cached_versions(name: str) -> list[str]:
    folder = models_dir() / check_name(name)
    if not folder.is_dir():
        return []
    return sort_versions(p.name for p in folder.iterdir() if (p / manifest.MANIFEST).is_file())


def cached_names() -> list[str]:
    root = models_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if NAME.fullmatch(p.name) and cached_versions(p.name))


def _lock(name: str, version: str):
    from filelock import FileLock

    locks = home() / "locks"
    try:
        locks.mkdir(parents=True, exist_ok=True)
        if not os.access(locks, os.W_OK):
            raise PermissionError(13, "read-only")
    except OSError as exc:
        raise CometRuntimeError(f"cannot pull {name}@{version}: COMET_HOME {home()} is not a writable folder "
                                f"({exc.strerror or exc})") from None
    return FileLock(str(locks / f"{name}@{version}.lock"), timeout=600)


def _check_weights(snapshot: Path, label: str) -> None:
    """The weights must parse as safetensors (header and offsets): nothing is unpickled."""
    from safetensors import safe_open

    try:
        with safe_open(str(snapshot / "model.safetensors"), framework="numpy") as f:
            f.keys()
    except Exception as exc:
        raise CometRuntimeError(f"{label}: model.safetensors is not a valid safetensors file ({exc})") from None


# -- resolving names ------------------------------------------------------------
def _unknown(name: str, backends: list) -> CometError:
    known = sorted(({n for b in backends for n in b.names()} | set(cached_names())) - {name})
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else (f"; known: {', '.join(known)}" if known else "")
    return CometError(f"unknown model {name!r}{hint}")


def locate(spec: Spec | str, backends: list | None = None) -> tuple[str, object | None]:
    """The concrete version of a spec and the first hub that has it (None: only in the cache)."""
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    backends = hubs() if backends is None else backends
    offers, failures = [], []
    for backend in backends:
        try:
            offers.append((backend, backend.versions(spec.name)))
        except CometError as exc:  # an unreachable hub: the others and the cache may still answer
            failures.append(exc)
    known = sort_versions([v for _, vs in offers for v in vs] + cached_versions(spec.name))
    if not known:
        raise failures[0] if failures else _unknown(spec.name, backends)
    version = spec.version or known[-1]
    if version not in known:
        raise CometError(f"{spec.name} has no version {version}; known: {', '.join(known)}")
    source = next((b for b, vs in offers if version in vs), None)
    return version, source


def resolve(spec: Spec | str, on_start: Callable[[int | None], None] | None = None,
            on_bytes: Callable[[int], None] | None = None) -> Path:
    """A verified local snapshot of `spec`, pulled into the cache when needed."""
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    if spec.version and spec.version in cached_versions(spec.name):
        version, source = spec.version, None  # cached: no hub is asked (works offline)
    else:
        version, source = locate(spec)
    label = f"{spec.name}@{version}"
    final = cached_path(spec.name, version)
    if final.is_dir():  # a verified snapshot is read without the lock: a read-only cache works
        try:
            manifest.verify(final, label)
            return final
        except CometError:
            pass        # damaged (or being replaced): sort it out under the lock
    with _lock(spec.name, version):
        if final.is_dir():
            try:
                manifest.verify(final, label)
                return final
            except CometError:
                if source is None:
                    version, source = locate(Spec(spec.name, version))
                if source is None:
                    raise
                shutil.rmtree(final)  # a damaged copy is replaced by a fresh pull
        if source is None:
            raise CometError(f"{label} is not cached and no configured hub has it")
        final.parent.mkdir(parents=True, exist_ok=True)
        for stale in final.parent.glob(f".{version}-*"):  # left by a killed pull; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=final.parent))
        try:
            if on_start:
                on_start(source.total_size(spec.name, version))
            source.fetch(spec.name, version, tmp, on_bytes)
            manifest.verify(tmp, f"{label} from {source.url}")
            _check_weights(tmp, label)
            os.rename(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def load_model(spec: Spec | str, device: str = "cpu"):
    """The COMET model of `spec` (e.g. "clevr", "clevr@v1"), loaded strictly from safetensors."""
    from ..core.model import COMET

    return COMET.load(resolve(spec), device=device)


def card(spec: Spec | str):
    """The concept card of `spec` (pulled when needed)."""
    from .cards import read_card

    return read_card(resolve(spec))


def remove(spec: Spec | str) -> list[str]:
    """Delete cached versions (one, or all of a name); hubs are never touched."""
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    versions = [spec.version] if spec.version else cached_versions(spec.name)
    if not versions or spec.version not in (None, *cached_versions(spec.name)):
        raise CometError(f"{spec} is not in the cache ({models_dir()})")
    for version in versions:
        with _lock(spec.name, version):
            shutil.rmtree(cached_path(spec.name, version), ignore_errors=True)
    parent = models_dir() / spec.name
    if parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
    return [f"{spec.name}@{v}" for v in versions]


# -- listing ------------------------------------------------------------------------
@dataclass
class Entry:
    name: str
    versions: dict[str, str] = field(default_factory=dict)   # version → hub URL ("cache" if only cached)
    pulled: list[str] = field(default_factory=list)
    concepts: list[str] = field(default_factory=list)        # of the newest version, when its card is at hand
    dataset: str | None = None
    size: int | None = None                                  # bytes of the newest version

    @property
    def newest(self) -> str:
        return sort_versions(self.versions)[-1]


def catalog() -> list[Entry]:
    """Every model the configured hubs and the cache know, with what the cards say."""
    from .cards import read_card

    backends = hubs()
    entries: dict[str, Entry] = {}
    for backend in backends:
        for name in backend.names():
            entry = entries.setdefault(name, Entry(name))
            try:
                for version in backend.versions(name):
                    entry.versions.setdefault(version, backend.url)
            except CometError:
                continue  # an unreachable hub lists nothing; the rest of the table still shows
    for name in cached_names():
        entry = entries.setdefault(name, Entry(name))
        entry.pulled = cached_versions(name)
        for version in entry.pulled:
            entry.versions.setdefault(version, "cache")
    for entry in entries.values():
        if not entry.versions:
            continue
        newest = entry.newest
        snapshot = cached_path(entry.name, newest) if newest in entry.pulled else None
        backend = next((b for b in backends if b.url == entry.versions[newest]), None)
        if snapshot is None and backend is not None:
            try:
                snapshot = backend.local_snapshot(entry.name, newest)
            except (CometError, OSError):
                snapshot = None
        if snapshot is not None:
            # One malformed artifact shows as a row without details; it never hides the others.
            try:
                entry.size = sum((snapshot / rel).stat().st_size for rel in manifest.read(snapshot)
                                 if (snapshot / rel).is_file())
                info = read_card(snapshot)
                entry.concepts, entry.dataset = [c.name for c in info.concepts], info.dataset
            except (CometError, OSError):
                pass
    return sorted((e for e in entries.values() if e.versions), key=lambda e: e.name)
