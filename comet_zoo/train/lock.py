"""One run folder, one writer: `comet train` and `--resume` hold a lock on the run folder.

Two trainings into one folder would interleave one log and overwrite one checkpoint
with the other's. The lock (`filelock`: an OS-level lock, released by the kernel when
its process dies, so a killed run never leaves the folder locked) is taken before the
folder is touched; a second writer is refused at once, with the holder's process id,
host and start time, which sit beside the lock in a small JSON file.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from .._io import atomic_path
from ..errors import CometError, CometRuntimeError

LOCK = ".comet-run.lock"
HOLDER = ".comet-run.holder.json"


class RunLock:
    """The lock of one run folder; `acquire` refuses when another process holds it.
    In one process the lock is shared (re-entrant): a Trainer that resumes a run that
    this process trained holds it too."""

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        self._lock = None

    def acquire(self) -> "RunLock":
        from filelock import FileLock, Timeout

        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._lock = FileLock(str(self.out_dir / LOCK), timeout=0, is_singleton=True)
            self._lock.acquire()
        except Timeout:
            self._lock = None
            raise CometError(f"{self.out_dir} is in use by another training ({self.holder()}); wait for it to "
                             "end, or train into another folder (--out)") from None
        except OSError as exc:   # a read-only or missing parent, a file in the way
            self._lock = None
            raise CometRuntimeError(f"cannot write run folder {self.out_dir}: {exc.strerror or exc}") from None
        try:
            with atomic_path(self.out_dir / HOLDER) as tmp:
                tmp.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                           "since": time.strftime("%Y-%m-%d %H:%M:%S %Z")}), encoding="utf-8")
        except CometError:
            self.release()
            raise
        return self

    def holder(self) -> str:
        """'pid 123 on host, since …', as the holder wrote it; 'holder unknown' when unreadable."""
        try:
            info = json.loads((self.out_dir / HOLDER).read_text(encoding="utf-8"))
            return f"pid {int(info['pid'])} on {str(info['host'])[:64]}, since {str(info['since'])[:40]}"
        except (OSError, ValueError, KeyError, TypeError):
            return "holder unknown"

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is None:
            return
        lock.release()
        if not lock.is_locked:   # the last holder in this process: the record goes too
            (self.out_dir / HOLDER).unlink(missing_ok=True)

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
