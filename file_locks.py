"""Locks between processes: one writer at a time for a run folder, a server's state, a download.

A lock is an ``fcntl.flock`` on a lock file, so the kernel releases it when its holder exits,
however it exits: a crash never leaves a stale lock behind. The holder writes who it is into
the file, so a process that finds the lock taken can say who holds it, instead of hanging or
failing without a word.
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from personagraph.errors import PersonaGraphError
from personagraph.private_files import PRIVATE_FILE_MODE

#: How often a process that waits for a lock tries again.
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock, as the holder wrote it into the lock file."""

    pid: int
    command: str
    since: str  # ISO 8601, UTC

    def describe(self) -> str:
        return f"{self.command} (pid {self.pid}, since {self.since})"


class LockBusy(PersonaGraphError):
    """The lock stayed taken for as long as the caller was willing to wait."""

    def __init__(self, message: str, holder: LockHolder | None) -> None:
        super().__init__(message)
        self.holder = holder


@contextmanager
def file_lock(
    path: str | Path,
    wait: float | None = None,
    *,
    command: str = "",
    what: str | None = None,
    busy_hint: str = "wait for it to finish and try again",
    unwritable_hint: str = "make it writable",
) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created 0600 if missing) for the ``with`` block.

    ``wait`` None waits as long as it takes; a number of seconds (0: not at all) gives up then
    with :class:`LockBusy`, whose message names ``what`` is locked, who holds it and ``busy_hint``.
    ``command`` says what this process does, for the message others get meanwhile.
    """
    path = Path(path)
    descriptor = _open(path, unwritable_hint)
    try:
        _acquire(descriptor, path, wait, what, busy_hint)
        try:
            _write_holder(descriptor, command)
            yield
        finally:
            os.ftruncate(descriptor, 0)  # the next holder's waiters must not see this one
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def lock_holder(path: str | Path) -> LockHolder | None:
    """Who holds the lock on ``path`` now, as far as the file says (None: free, or not yet recorded)."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8") or "null")
        return LockHolder(pid=int(record["pid"]), command=str(record["command"]), since=str(record["since"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _open(path: Path, unwritable_hint: str) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
            os.fchmod(descriptor, PRIVATE_FILE_MODE)
        except FileExistsError:
            descriptor = os.open(path, os.O_RDWR)
    except OSError as exc:
        raise PersonaGraphError(f"cannot write to {path.parent} ({exc.strerror}); {unwritable_hint}") from None
    return descriptor


def _acquire(descriptor: int, path: Path, wait: float | None, what: str | None, busy_hint: str) -> None:
    if wait is None:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        return
    deadline = time.monotonic() + max(wait, 0.0)
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                break
            time.sleep(_POLL_SECONDS)
    holder = lock_holder(path)
    waited = f" after waiting {wait:g} s" if wait > 0 else ""
    by = holder.describe() if holder is not None else "another process"
    raise LockBusy(f"{what or path} is in use by {by}{waited}; {busy_hint}", holder)


def _write_holder(descriptor: int, command: str) -> None:
    record = {"pid": os.getpid(), "command": command or "another process",
              "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, (json.dumps(record) + "\n").encode("utf-8"), 0)
