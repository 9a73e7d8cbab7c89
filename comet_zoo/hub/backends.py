"""Where artifacts come from: the bundled zoo, local directory hubs and the Hugging Face Hub.

Hub URLs:
    bundled        the zoo shipped inside the installed package (read-only)
    file://PATH    a directory hub: PATH/NAME/vN/<artifact files>
    hf://ORG       Hugging Face repos ORG/NAME; versions are git tags vN
                   (endpoint from HF_ENDPOINT, token from HF_TOKEN)

Every backend fetches only the files that the artifact's SHA256SUMS lists; the
caller verifies them before anything is used.

Network calls have time-outs: COMET_HUB_TIMEOUT is SECONDS (connect and read) or
CONNECT,READ (default 5,10). Each question to an hf:// hub (its models, its tags, a
file list) is also bounded as a whole (connect + read + 1 s, retries included); a
download's ETag request waits the read time-out (HF_HUB_ETAG_TIMEOUT wins where set),
its transfer HF_HUB_DOWNLOAD_TIMEOUT, as huggingface_hub does. A hub that does not
answer in time is a one-line CometRuntimeError that says so.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from .._io import MAX_CONFIG_BYTES, MAX_WEIGHTS_BYTES, open_regular, read_bytes
from ..errors import CometError, CometRuntimeError
from . import manifest
from .names import NAME, check_name, check_version, sort_versions

OnBytes = Callable[[int], None]
_ORG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
log = logging.getLogger("comet_zoo.hub")

DEFAULT_TIMEOUTS = (5.0, 10.0)   # (connect, read) seconds


def hub_timeouts() -> tuple[float, float]:
    """(connect, read) seconds for remote hubs, from COMET_HUB_TIMEOUT (SECONDS or CONNECT,READ)."""
    text = os.environ.get("COMET_HUB_TIMEOUT", "").strip()
    if not text:
        return DEFAULT_TIMEOUTS
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(0 < v <= 600 for v in values):
        raise CometError(f"COMET_HUB_TIMEOUT must be SECONDS or CONNECT,READ seconds (each in (0, 600]), "
                         f"e.g. 5,10; got {text!r}")
    return values[0], values[-1]


def _no_answer(url: str, exc: BaseException | None = None) -> CometRuntimeError:
    connect, read = hub_timeouts()
    if exc is None or "timeout" in type(exc).__name__.lower():
        return CometRuntimeError(f"{url} did not answer within its time-out (connect {connect:g} s, read {read:g} s; "
                                 "COMET_HUB_TIMEOUT)")
    return CometRuntimeError(f"cannot reach {url}: {(str(exc).splitlines() or [type(exc).__name__])[0]}")


def bounded(call: Callable, url: str, seconds: float | None = None):
    """`call()` in a daemon thread, given up after `seconds` (default connect + read + 1):
    huggingface_hub retries a timed-out request several times, and nothing here may wait
    on a silent server for longer than its time-out. The call's own exception is re-raised."""
    import threading

    if seconds is None:
        seconds = sum(hub_timeouts()) + 1
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:   # handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name=f"comet-hub {url}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise _no_answer(url)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _no_credentials(url: str) -> None:
    parts = urlsplit(url)
    if "@" in parts.netloc:
        redacted = f"{parts.scheme}://***@{parts.netloc.rpartition('@')[2]}{parts.path}"
        raise CometError(f"hub URL {redacted} carries credentials; remove them and set HF_TOKEN instead")


def _pickles_only(files: list[str], where: str) -> None:
    """Explain a source without a manifest: pickle weights are refused, anything else is incomplete."""
    pickles = sorted(f for f in files if Path(f).suffix.lower() in manifest.PICKLE_SUFFIXES)
    if pickles and manifest.REQUIRED[0] not in files:
        raise CometError(f"{where} holds only pickle-format weights ({', '.join(pickles[:3])}); "
                         "comet-zoo loads safetensors only")
    raise CometError(f"{where} is not a comet-zoo artifact: no {manifest.MANIFEST} manifest")


class DirHub:
    """A directory of NAME/vN/ artifact folders: the bundled zoo, or a `file://` hub."""

    def __init__(self, root: Path, url: str, writable: bool = True):
        self.root, self.url, self.writable = Path(root), url, writable
        # The cache folder of this hub: two hubs never share cached copies.
        self.id = "bundled" if url == "bundled" else f"file-{_digest(url)}"

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and NAME.fullmatch(p.name))

    def versions(self, name: str) -> list[str]:
        folder = self.root / check_name(name)
        if not folder.is_dir():
            return []
        # Any vN folder counts: a pull of one that is not a valid artifact says why it is refused.
        return sort_versions(p.name for p in folder.iterdir() if p.is_dir())

    def local_snapshot(self, name: str, version: str) -> Path | None:
        """The artifact folder itself (cards and sizes are read from it without a pull)."""
        path = self.root / check_name(name) / check_version(version)
        return path if (path / manifest.MANIFEST).is_file() else None

    def fetch(self, name: str, version: str, dest: Path, on_bytes: OnBytes | None = None) -> None:
        src = self.root / check_name(name) / check_version(version)
        where = f"{name}@{version} in {self.url}"
        if not src.is_dir():
            raise CometError(f"{where} does not exist")
        if not (src / manifest.MANIFEST).is_file():
            _pickles_only([p.name for p in src.iterdir()], where)
        entries = manifest.read(src)
        (dest / manifest.MANIFEST).write_bytes(read_bytes(src / manifest.MANIFEST, MAX_CONFIG_BYTES, inside=src))
        for rel in entries:
            source, target = src / rel, dest / rel
            if not source.is_file():
                raise CometRuntimeError(f"{where}: {rel} is missing")
            target.parent.mkdir(parents=True, exist_ok=True)
            # A regular file that stays in the snapshot: a FIFO would block, a link could copy any file
            with open_regular(source, MAX_WEIGHTS_BYTES, inside=src) as fin, open(target, "wb") as fout:
                while block := fin.read(1 << 20):
                    fout.write(block)
                    if on_bytes:
                        on_bytes(len(block))

    def total_size(self, name: str, version: str) -> int | None:
        snap = self.local_snapshot(name, version)
        if snap is None:
            return None
        return sum((snap / rel).stat().st_size for rel in manifest.read(snap) if (snap / rel).is_file())

    def publish(self, artifact: Path, name: str, version: str) -> str:
        if not self.writable:
            raise CometError(f"{self.url} is read-only; push to a file:// or hf:// hub")
        target = self.root / check_name(name) / check_version(version)
        if target.exists():
            raise CometError(f"{name}@{version} already exists in {self.url}; versions are immutable, push a new version")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            for stale in target.parent.glob(f".{version}-*"):  # a killed push's copy, once an hour old
                if time.time() - stale.stat().st_mtime > 3600:
                    shutil.rmtree(stale, ignore_errors=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
        except OSError as exc:
            raise CometRuntimeError(f"cannot publish to {self.url}: {exc.strerror or exc}") from None
        try:
            shutil.copytree(artifact, tmp, dirs_exist_ok=True,
                            ignore=lambda d, names: [n for n in names if n.startswith(".")])
            manifest.verify(tmp, f"{name}@{version}")
            try:
                os.rename(tmp, target)  # the version appears complete or not at all
            except OSError:             # another push of this version won the race
                if target.exists():
                    raise CometError(f"{name}@{version} already exists in {self.url}; versions are immutable, "
                                     "push a new version") from None
                raise
        except OSError as exc:          # a full disk, a read-only hub
            raise CometRuntimeError(f"cannot publish to {self.url}: {exc.strerror or exc}") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return f"{self.url}/{name}/{version}"


class HfHub:
    """Repos ORG/NAME on a Hugging Face Hub (or a compatible server); versions are git tags."""

    writable = True

    def __init__(self, org: str, url: str):
        self.org, self.url = org, url
        self.endpoint = os.environ.get("HF_ENDPOINT") or None  # read now: honoured even if set after import
        if self.endpoint:
            _no_credentials(self.endpoint)
        # The same ORG on another endpoint is another hub: it gets its own cache folder.
        self.id = f"hf-{org.lower()}-{_digest(self.endpoint or 'https://huggingface.co')[:8]}"

    def _api(self):
        from huggingface_hub import HfApi, get_session

        # huggingface_hub's shared client has no time-out of its own for API calls (a silent
        # server would be waited on for ever): requests without one get ours.
        connect, read = hub_timeouts()
        session = get_session()
        session.timeout = type(session.timeout)(read, connect=connect)
        return HfApi(endpoint=self.endpoint, library_name="comet-zoo")

    def _repo(self, name: str) -> str:
        return f"{self.org}/{check_name(name)}"

    def names(self) -> list[str]:
        if hf_offline():  # offline, the hub is not asked: only its cached copies answer
            return []
        try:
            ids = bounded(lambda: [m.id for m in self._api().list_models(author=self.org)], self.url)
            return sorted({i.split("/")[-1] for i in ids if NAME.fullmatch(i.split("/")[-1])})
        except CometRuntimeError as exc:   # no answer in time: said, and the rest of a listing still shows
            log.warning("note: %s", exc)
            return []
        except Exception:  # listing is a convenience (some mirrors lack it); pulls by name still work
            return []

    def versions(self, name: str) -> list[str]:
        from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

        if hf_offline():
            return []
        try:
            refs = bounded(lambda: self._api().list_repo_refs(self._repo(name)), self.url)
        except CometRuntimeError:
            raise
        except (RepositoryNotFoundError, RevisionNotFoundError):
            return []
        except HfHubHTTPError as exc:
            if getattr(exc.response, "status_code", None) == 404:  # mirrors answer a bare 404 for a missing repo
                return []
            raise CometRuntimeError(f"cannot reach {self.url} ({self.endpoint or 'huggingface.co'}): {str(exc).splitlines()[0]}") from None
        except Exception as exc:   # refused connection, time-out, DNS …
            raise _no_answer(f"{self.url} ({self.endpoint or 'huggingface.co'})", exc) from None
        return sort_versions(tag.name for tag in refs.tags)

    def local_snapshot(self, name: str, version: str) -> Path | None:
        return None

    def total_size(self, name: str, version: str) -> int | None:
        return None

    def fetch(self, name: str, version: str, dest: Path, on_bytes: OnBytes | None = None) -> None:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import (
            EntryNotFoundError,
            HfHubHTTPError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        repo, where = self._repo(name), f"{name}@{version} in {self.url}"
        # hf_hub_download keeps its bookkeeping in local_dir/.cache: download into a hidden folder of
        # the (temporary) destination, move the listed files out, drop the rest.
        staging = dest / ".hf-staging"
        try:
            def get(filename: str) -> Path:
                return Path(hf_hub_download(repo, filename, revision=version, local_dir=staging,
                                            endpoint=self.endpoint, library_name="comet-zoo",
                                            etag_timeout=hub_timeouts()[1]))
            # The file list of the tag first: a repo without a manifest is explained, not half-fetched.
            files = bounded(lambda: self._api().list_repo_files(repo, revision=version), self.url)
            if manifest.MANIFEST not in files:
                _pickles_only(files, where)
            listed = manifest.parse(get(manifest.MANIFEST).read_text(encoding="utf-8"), where)
            for rel in listed:
                path = get(rel)
                if on_bytes:
                    on_bytes(path.stat().st_size)
            for rel in [manifest.MANIFEST, *listed]:
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / rel, dest / rel)
        except (RepositoryNotFoundError, RevisionNotFoundError):
            raise CometError(f"{where} does not exist") from None
        except EntryNotFoundError as exc:
            raise CometRuntimeError(f"{where}: a file listed in {manifest.MANIFEST} is missing ({exc})") from None
        except HfHubHTTPError as exc:
            raise CometRuntimeError(f"{where}: download failed ({str(exc).splitlines()[0]})") from None
        except CometError:
            raise
        except OSError as exc:     # the local disk: full, read-only
            raise CometRuntimeError(f"{where}: cannot write the download ({exc.strerror or exc})") from None
        except Exception as exc:   # a time-out or a dropped connection mid-download
            raise _no_answer(f"{where}: {self.url}", exc) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def publish(self, artifact: Path, name: str, version: str) -> str:
        """One commit with the whole artifact, then the tag vN on that commit (HF_TOKEN authenticates)."""
        from huggingface_hub.errors import HfHubHTTPError

        api, repo = self._api(), self._repo(name)
        if version in self.versions(name):
            raise CometError(f"{name}@{version} already exists in {self.url}; versions are immutable, push a new version")
        try:
            api.create_repo(repo, exist_ok=True)
            commit = api.upload_folder(repo_id=repo, folder_path=artifact, commit_message=f"{name} {version}",
                                       ignore_patterns=[".*"])
            api.create_tag(repo, tag=version, revision=commit.oid, tag_message=f"{name} {version}")
        except HfHubHTTPError as exc:
            raise CometRuntimeError(f"push of {name}@{version} to {self.url} failed: {str(exc).splitlines()[0]}") from None
        return f"{self.url}/{name}@{version}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def bundled_root() -> Path:
    return Path(str(resources.files("comet_zoo") / "zoo"))


def open_hub(url: str):
    """A hub URL → its backend; credentials in URLs and unknown schemes are refused."""
    url = url.strip()
    if url == "bundled":
        return DirHub(bundled_root(), "bundled", writable=False)
    _no_credentials(url)
    if url.startswith("file://"):
        path = url[len("file://"):]
        if not path:
            raise CometError("file:// hub needs a directory, e.g. file:///srv/comet-zoo")
        root = Path(path).expanduser().resolve()
        return DirHub(root, f"file://{root}")
    if url.startswith("hf://"):
        org = url[len("hf://"):].strip("/")
        if not _ORG.fullmatch(org):
            raise CometError(f"hf:// hub needs an organisation or user name, e.g. hf://comet-zoo (got {url!r})")
        return HfHub(org, f"hf://{org}")
    raise CometError(f"unknown hub {url!r}; use bundled, file://DIR or hf://ORG")


def hf_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
