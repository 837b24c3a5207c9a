"""``.cleanup.lock``: one housekeeping run (cleanup or sanity check) at a time.

An OS lock (``fcntl.flock``) on the file, taken without waiting: a second run
exits at once. The kernel drops the lock when the holder's process ends, however
it ends, so a crashed run leaves no stale lock. The file itself stays (deleting a
lock file lets two runs lock two different files).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from storage_app.layout import FILE_MODE, LOCK_FILENAME, make_root


class StorageBusyError(RuntimeError):
    """Another cleanup or sanity check holds ``.cleanup.lock``."""


def lock_path() -> Path:
    return make_root() / LOCK_FILENAME


@contextmanager
def storage_lock(purpose: str) -> Iterator[Path]:
    """Hold ``.cleanup.lock`` for the block, or raise ``StorageBusyError`` at once."""
    path = lock_path()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            raise StorageBusyError(
                f"another storage run is in progress ({holder or 'holder unknown'}); "
                f"lock {path} is held, exiting"
            ) from None
        # Who holds it, for the message the next run prints.
        os.ftruncate(fd, 0)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        os.pwrite(fd, f"{purpose} pid={os.getpid()} since={stamp}\n".encode(), 0)
        try:
            yield path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
