"""The hub's read path: a model reference → a verified local snapshot; the cache and the hubs.

    resolve("clevr@v4")             → COMET_HOME/models/bundled/clevr/v4, every file checked
    resolve("hf-hub:org/clevr")     → the newest tag of org/clevr, cached under that hub's id
    load_model("./runs/x/model")    → a local model folder, loaded as it is
    card("clevr")                   → the parsed concept card

The reference grammar is in `names`. Publishing (`comet_zoo.publish.push`) sits above
this package: reading a model never imports the artifact builder or the evaluation.

The configured hubs (COMET_HUB, else the config file's `hubs`, else bundled then
COMET_HOME/hub) share one namespace of bare names, and a bare name must be published by
exactly one of them: when two publish it, the bare name is an error that lists the
qualified names. Versions never merge across hubs, and the cache is keyed by hub, so a
hub added later cannot take over a name, not even through copies left in the cache.
A pull downloads into a temporary folder beside its final place, verifies every
file against SHA256SUMS, and renames it into place under a file lock, so
concurrent pulls end with one good copy and a failed pull leaves nothing."""

from __future__ import annotations

import difflib
import json
import logging
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .._io import atomic_path
from ..errors import CometError, CometRuntimeError
from . import manifest
from .backends import DirHub, open_hub
from .names import NAME, VERSION, Ref, check_name, check_path_text, check_version, parse_ref, qualified, sort_versions

CONFIG_FILE = "config.toml"
log = logging.getLogger("comet_zoo.hub")


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


def hubs() -> list:
    """Backends in order. While HF_HUB_OFFLINE is set an hf:// hub asks no server: only its
    cached copies answer."""
    return [open_hub(url) for url in hub_urls()]


def push_hub(url: str | None = None):
    """Where `push` publishes: --hub, else the config file's `push`, else the first file:// hub, else COMET_HOME/hub."""
    if url:
        return open_hub(url)
    configured = _config().get("push")
    if isinstance(configured, str):
        return open_hub(configured)
    for backend in hubs():
        if isinstance(backend, DirHub) and backend.writable:
            return backend
    return open_hub(default_local_hub())


# -- the cache ----------------------------------------------------------------------
# COMET_HOME/models/<hub id>/NAME/vN: keyed by hub, so that a copy pulled from one hub
# never answers for another hub's name. <hub id>/hub.json records the hub's URL.
HUB_RECORD = "hub.json"


def models_dir() -> Path:
    return home() / "models"


def cached_path(hub_id: str, name: str, version: str) -> Path:
    return models_dir() / hub_id / check_name(name) / check_version(version)  # validated: stays inside the cache


def cached_versions(hub_id: str, name: str) -> list[str]:
    folder = models_dir() / hub_id / check_name(name)
    if not folder.is_dir():
        return []
    return sort_versions(p.name for p in folder.iterdir() if (p / manifest.MANIFEST).is_file())


def cached_hubs() -> dict[str, str]:
    """Hub id → hub URL of every hub that has copies in the cache."""
    root, found = models_dir(), {}
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            try:
                found[folder.name] = json.loads((folder / HUB_RECORD).read_text(encoding="utf-8"))["url"]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not a hub folder (or one from before hub ids): ignored
    return found


def cached_names(hub_id: str) -> list[str]:
    folder = models_dir() / hub_id
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if NAME.fullmatch(p.name) and cached_versions(hub_id, p.name))


def _record_hub(backend) -> None:
    record = models_dir() / backend.id / HUB_RECORD
    if not record.is_file():
        with atomic_path(record) as tmp:
            tmp.write_text(json.dumps({"url": backend.url, "endpoint": getattr(backend, "endpoint", None)}))


def _lock(hub_id: str, name: str, version: str):
    from filelock import FileLock

    locks = home() / "locks" / hub_id
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


def _check_loadable(snapshot: Path, label: str) -> None:
    """A pull succeeds only for an artifact that loads: a COMET model is built from its config
    (encoder and energy known) and its weights loaded (shapes match, every value finite); a
    baseline's weights are checked finite (its config is checked when it is loaded); the card,
    where present, is readable and names only components the model has."""
    from ..core.config import read_config_json
    from .cards import check_fits, read_card

    try:
        data = read_config_json(snapshot)
        if data.get("kind", "comet") == "comet":
            from ..core.model import COMET

            components = COMET.load(snapshot).config.num_components
        else:
            components = None
            _check_finite(snapshot)
        if (snapshot / "README.md").is_file():
            info = read_card(snapshot)
            if components is not None:
                check_fits(info, components, "the card")
    except CometError as exc:
        raise CometRuntimeError(f"{label} cannot be loaded: {exc}") from None


def _check_finite(snapshot: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(snapshot / "model.safetensors"), framework="pt") as f:
        for key in f.keys():
            tensor = f.get_tensor(key)
            if tensor.is_floating_point() and not tensor.isfinite().all():
                raise CometError(f"model.safetensors: {key} holds NaN or infinite values")


# The sha256 of each cached version's SHA256SUMS at pull time, beside the snapshot
# (NAME/vN.pulled): a snapshot whose files and manifest were edited together still
# matches its manifest, but no longer the record.
def _record_path(final: Path) -> Path:
    return final.parent / f"{final.name}.pulled"


def _write_record(final: Path, pulled: Path, source_url: str) -> None:
    """Record the manifest of `pulled` (the verified download) for `final`, before it moves there."""
    with atomic_path(_record_path(final)) as tmp:
        tmp.write_text(json.dumps({"manifest_sha256": manifest.sha256_file(pulled / manifest.MANIFEST),
                                   "hub": source_url}), encoding="utf-8")


def _verify_cached(final: Path, label: str, source) -> None:
    """The cached snapshot matches its manifest, the manifest recorded at pull time and, for a
    directory hub at hand, the hub's own manifest; any difference raises CometError."""
    manifest.verify(final, label)
    try:
        recorded = json.loads(_record_path(final).read_text(encoding="utf-8"))["manifest_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        raise CometError(f"{label}: the cached copy has no pull record; it is pulled again") from None
    current = manifest.sha256_file(final / manifest.MANIFEST)
    if current != recorded:
        raise CometError(f"{label}: the cached copy was edited after it was pulled (its SHA256SUMS changed)")
    original = source.local_snapshot(final.parent.name, final.name) if source is not None else None
    if original is not None and manifest.sha256_file(original / manifest.MANIFEST) != current:
        raise CometError(f"{label}: the cached copy differs from {source.url}'s")


# -- resolving references ---------------------------------------------------------
def _as_ref(ref: Ref | str | os.PathLike) -> Ref:
    """A Ref, a reference string, or a path (a Path is a local model folder)."""
    if isinstance(ref, Ref):
        return ref
    if isinstance(ref, os.PathLike):
        try:
            return Ref(path=Path(check_path_text(os.fspath(ref))).expanduser())
        except RuntimeError:  # `~user/…` for a user this machine does not know
            raise CometError(f"invalid model {os.fspath(ref)!r}: no such home directory") from None
    return parse_ref(ref)


def _unknown(name: str, backends: list) -> CometError:
    from .backends import HfHub, hf_offline

    offline = [b.url for b in backends if isinstance(b, HfHub)] if hf_offline() else []
    damaged = [b.url for b in backends if not cached_versions(b.id, name) and any(
        VERSION.fullmatch(p.name) for p in (models_dir() / b.id / name).glob("v*") if p.is_dir())]
    if damaged:
        return CometRuntimeError(f"{name}: the cached copy from {damaged[0]} is damaged (no {manifest.MANIFEST}); "
                                 f"`comet rm {name}` and pull it again")
    if offline:
        return CometError(f"{name} is not in the cache, and HF_HUB_OFFLINE is set, so {', '.join(offline)} "
                          "was not asked; unset it to pull")
    known = sorted(({n for b in backends for n in b.names()} | {n for b in backends for n in cached_names(b.id)}) - {name})
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else (f"; known: {', '.join(known)}" if known else "")
    return CometError(f"unknown model {name!r}{hint}")


# A bare name that a hub on this machine (bundled, file://) publishes waits at most this
# long for the remote hubs' answers (COMET_HUB_GRACE seconds): a silent mirror never holds
# up a bundled model. A remote hub that has not answered by then is reported and left out.
DEFAULT_GRACE = 1.0


def _grace() -> float:
    text = os.environ.get("COMET_HUB_GRACE", "").strip()
    try:
        value = float(text) if text else DEFAULT_GRACE
    except ValueError:
        value = -1.0
    if not 0 <= value <= 600:
        raise CometError(f"COMET_HUB_GRACE must be a number of seconds in 0..600, got {text!r}")
    return value


def _ask_versions(name: str, backends: list) -> dict[int, list[str] | CometError | None]:
    """Each hub's versions of `name` (or its error), asked at once: hubs on this machine answer
    in place, remote ones in threads. None: a remote hub that had not answered when the local
    hubs already had `name` and the grace time was over."""
    import threading
    import time

    from .backends import _no_answer, hub_timeouts

    answers: dict[int, list[str] | CometError | None] = {}
    remote = [(i, b) for i, b in enumerate(backends) if not isinstance(b, DirHub)]
    done = threading.Event()

    def ask(i: int, backend) -> None:
        try:
            answers[i] = backend.versions(name)
        except CometError as exc:  # an unreachable hub: its cached copies may still answer
            answers[i] = exc
        if all(j in answers for j, _ in remote):
            done.set()

    workers = [threading.Thread(target=ask, args=(i, b), daemon=True) for i, b in remote]
    for worker in workers:
        worker.start()
    for i, backend in enumerate(backends):
        if isinstance(backend, DirHub):
            ask(i, backend)
    if remote:
        local_has_it = any(isinstance(a, list) and a for a in answers.values())
        wait = _grace() if local_has_it else sum(hub_timeouts()) + 2   # each call is bounded; a margin
        deadline = time.monotonic() + wait
        while not done.is_set() and time.monotonic() < deadline:
            done.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        if not local_has_it:   # the remote hubs were the only hope: a silent one is an error
            for i, backend in remote:
                answers.setdefault(i, _no_answer(backend.url))
    return {i: answers.get(i) for i in range(len(backends))}


def _offers(name: str, backends: list) -> tuple[list, list]:
    """(backend, versions it offers, versions of it in the cache) for every hub that publishes `name`
    (or whose copies are cached), and the errors of the hubs that could not be asked."""
    found, failures = [], []
    answers = _ask_versions(name, backends) if len(backends) > 1 else {0: _ask_one(name, backends[0])} if backends else {}
    for i, backend in enumerate(backends):
        answer = answers[i]
        if answer is None:      # too slow: reported, and resolution goes on without it
            log.warning("note: %s did not answer within %g s (COMET_HUB_GRACE); %s was resolved without it",
                        backend.url, _grace(), name)
            offered = []
        elif isinstance(answer, CometError):
            offered = []
            failures.append(answer)
        else:
            offered = answer
        cached = cached_versions(backend.id, name)
        if offered or cached:
            found.append((backend, offered, cached))
    return found, failures


def _ask_one(name: str, backend) -> list[str] | CometError:
    try:
        return backend.versions(name)
    except CometError as exc:
        return exc


def locate(ref: Ref | str, backends: list | None = None) -> tuple[Ref, object | None]:
    """The reference made concrete (hub and version) and the hub to pull it from (None: only in
    the cache). A bare name must be published by exactly one configured hub: two hubs never
    merge, so a hub added later cannot take over a name (the error lists the qualified names)."""
    ref = _as_ref(ref)
    if ref.path is not None:
        raise CometError(f"{ref} is a local folder, not a hub model")
    if ref.hub is not None:
        backend = open_hub(ref.hub)
        found, failures = _offers(ref.name, [backend])
        if not found:
            raise failures[0] if failures else CometError(f"{ref.name} is not in {backend.url}")
    else:
        backends = hubs() if backends is None else backends
        found, failures = _offers(ref.name, backends)
        if not found:
            raise failures[0] if failures else _unknown(ref.name, backends)
        if len(found) > 1:
            names = ", ".join(qualified(b.url, ref.name) for b, _, _ in found)
            raise CometError(f"{ref.name} is published by {len(found)} hubs ({names}); name the one you mean")
    backend, offered, cached = found[0]
    known = sort_versions(offered + cached)
    version = ref.version or known[-1]
    if version not in known:
        raise CometError(f"{qualified(backend.url, ref.name)} has no version {version}; known: {', '.join(known)}")
    return Ref(ref.name, version, backend.url), (backend if version in offered else None)


def _local_folder(path: Path) -> Path:
    if not path.is_dir():
        raise CometError(f"model folder not found: {path}")
    return path


def resolve(ref: Ref | str, on_start: Callable[[int | None], None] | None = None,
            on_bytes: Callable[[int], None] | None = None) -> Path:
    """A verified local snapshot of `ref` (pulled into the cache when needed); a local
    model folder is returned as it is."""
    ref = _as_ref(ref)
    if ref.path is not None:
        return _local_folder(ref.path)
    if ref.hub is not None and ref.version and ref.version in cached_versions(open_hub(ref.hub).id, ref.name):
        ref, source = ref, None  # pinned and cached: no hub is asked (works offline)
    else:
        ref, source = locate(ref)
    hub_id, label = open_hub(ref.hub).id, str(ref)
    final = cached_path(hub_id, ref.name, ref.version)
    if final.is_dir():  # a verified snapshot is read without the lock: a read-only cache works
        try:
            _verify_cached(final, label, source)
            return final
        except CometError:
            pass        # damaged, edited (or being replaced): sort it out under the lock
    with _lock(hub_id, ref.name, ref.version):
        if final.is_dir():
            try:
                _verify_cached(final, label, source)
                return final
            except CometError:
                if source is None:
                    ref, source = locate(ref)
                if source is None:
                    raise
                shutil.rmtree(final)  # a damaged copy is replaced by a fresh pull
        if source is None:
            raise CometError(f"{label} is not cached and its hub does not have it")
        final.parent.mkdir(parents=True, exist_ok=True)
        _record_hub(source)
        for stale in final.parent.glob(f".{ref.version}-*"):  # left by a killed pull; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{ref.version}-", dir=final.parent))
        try:
            if on_start:
                on_start(source.total_size(ref.name, ref.version))
            source.fetch(ref.name, ref.version, tmp, on_bytes)
            manifest.verify(tmp, f"{label} from {source.url}")
            _check_weights(tmp, label)
            _check_loadable(tmp, label)
            _write_record(final, tmp, source.url)
            os.rename(tmp, final)
        except OSError as exc:   # a full or read-only COMET_HOME while copying: nothing half-pulled stays
            raise CometRuntimeError(f"cannot pull {label} into {models_dir()}: {exc.strerror or exc}") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def load_model(ref: Ref | str, device: str = "cpu"):
    """The COMET model of `ref` (e.g. "clevr", "clevr@v1", "hf-hub:org/clevr", "./runs/x/model"),
    loaded strictly from safetensors."""
    from ..core.model import COMET

    return COMET.load(resolve(ref), device=device)


def card(ref: Ref | str):
    """The concept card of `ref` (pulled when needed)."""
    from .cards import read_card

    return read_card(resolve(ref))


def list_models(pattern: str = "*", *, versions: bool = False) -> list[str]:
    """The references of the known models that match a shell-style `pattern`, sorted (as
    timm's list_models): list_models("clevr*") → ["clevr", "clevr-lighting", "clevr-toy"].
    A name two hubs publish is listed qualified; versions=True lists every NAME@vN."""
    import fnmatch

    if not isinstance(pattern, str):
        raise CometError(f"pattern must be a string such as 'clevr*', got {pattern!r}")
    found = set()
    for entry in catalog():
        if fnmatch.fnmatchcase(entry.name, pattern) or fnmatch.fnmatchcase(entry.ref, pattern):
            found.update([f"{entry.ref}@{v}" for v in entry.versions] if versions else [entry.ref])
    return sorted(found)


def remove(ref: Ref | str) -> list[str]:
    """Delete cached copies: a bare name from every hub's cache, a qualified one from its hub's
    (one version, or all); hubs are never touched."""
    ref = _as_ref(ref)
    if ref.path is not None:
        raise CometError(f"{ref} is a local folder, not a cached model; delete it yourself")
    known = cached_hubs()
    ids = [open_hub(ref.hub).id] if ref.hub else list(known)
    def present(hub_id: str) -> list[str]:  # damaged copies (no manifest) included: rm is how they go
        folder = models_dir() / hub_id / ref.name
        return sort_versions(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    targets = [(i, v) for i in ids for v in present(i) if ref.version in (None, v)]
    if not targets:
        raise CometError(f"{ref} is not in the cache ({models_dir()})")
    removed = []
    for hub_id, version in targets:
        with _lock(hub_id, ref.name, version):
            shutil.rmtree(cached_path(hub_id, ref.name, version), ignore_errors=True)
            _record_path(cached_path(hub_id, ref.name, version)).unlink(missing_ok=True)
        for stale in (models_dir() / hub_id / ref.name).glob(f".{version}-*"):  # a killed pull's leftovers
            shutil.rmtree(stale, ignore_errors=True)
        removed.append(qualified(known.get(hub_id, ref.hub or hub_id), f"{ref.name}@{version}"))
        parent = models_dir() / hub_id / ref.name
        if parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
    return removed


# -- listing ------------------------------------------------------------------------
@dataclass
class Entry:
    name: str
    hub: str                                                 # the hub's URL
    ref: str = ""                                            # what to type: the bare name unless two hubs publish it
    configured: bool = True                                  # False: only cached, from a hub no longer configured
    versions: dict[str, bool] = field(default_factory=dict)  # version → the hub offers it (False: only cached)
    pulled: list[str] = field(default_factory=list)
    concepts: list[str] = field(default_factory=list)        # of the newest version, when its card is at hand
    dataset: str | None = None
    size: int | None = None                                  # bytes of the newest version

    @property
    def newest(self) -> str:
        return sort_versions(self.versions)[-1]


def catalog() -> list[Entry]:
    """Every (hub, model) that the configured hubs and the cache know, with what the cards say."""
    from .cards import read_card

    backends = hubs()
    entries: dict[tuple[str, str], Entry] = {}
    for backend in backends:
        for name in backend.names():
            entry = entries.setdefault((backend.url, name), Entry(name, backend.url))
            try:
                entry.versions.update(dict.fromkeys(backend.versions(name), True))
            except CometError:
                continue  # an unreachable hub lists nothing; the rest of the table still shows
    configured = {b.url for b in backends}
    for hub_id, url in cached_hubs().items():
        for name in cached_names(hub_id):
            entry = entries.setdefault((url, name), Entry(name, url, configured=url in configured))
            entry.pulled = cached_versions(hub_id, name)
            for version in entry.pulled:
                entry.versions.setdefault(version, False)
    publishers: dict[str, int] = {}
    for entry in entries.values():
        if entry.configured and entry.versions:
            publishers[entry.name] = publishers.get(entry.name, 0) + 1
    for entry in entries.values():
        if not entry.versions:
            continue
        entry.ref = entry.name if entry.configured and publishers[entry.name] == 1 else qualified(entry.hub, entry.name)
        newest = entry.newest
        backend = next((b for b in backends if b.url == entry.hub), None) or open_hub(entry.hub)
        snapshot = cached_path(backend.id, entry.name, newest) if newest in entry.pulled else None
        if snapshot is None and entry.versions[newest]:
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
    return sorted((e for e in entries.values() if e.versions), key=lambda e: (e.name, not e.configured, e.ref))
