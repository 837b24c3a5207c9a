"""Where sets live: names, the in-progress folder, one backup per folder, retention.

A set is made in ``.partial-<name>`` beside its final place and renamed when
complete, so a folder without the dot is always a finished set (the rename is
atomic). A folder holds one running backup at a time (``.backup.lock``, an OS
lock, released however the process ends); partial folders found while holding it
are left-overs of a crashed run and are removed.

Retention keeps the newest ``BACKUP_KEEP`` sets named by the schedule
(``20261203T013000Z``); sets written elsewhere with ``--output`` under another
name are never pruned.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from storage_app.backup.manifest import MANIFEST_NAME, ManifestError, read_manifest

PARTIAL_PREFIX = ".partial-"
LOCK_NAME = ".backup.lock"
SCHEDULED_NAME = re.compile(r"\d{8}T\d{6}Z(-\d+)?")
FOLDER_MODE = 0o750


class BackupBusyError(RuntimeError):
    """Another backup is writing into the same folder."""


@dataclass(frozen=True)
class SetPlace:
    """Where a new set goes: ``parent/name``, made in ``parent/.partial-name``."""

    parent: Path
    name: str

    @property
    def final(self) -> Path:
        return self.parent / self.name

    @property
    def partial(self) -> Path:
        return self.parent / f"{PARTIAL_PREFIX}{self.name}"


def scheduled_name(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def place_for(
    output: Path | None, backup_dir: Path | None, now: datetime | None = None
) -> SetPlace:
    """``--output DIR`` as given (it must not exist yet), else a new timestamped
    folder in ``BACKUP_DIR``."""
    if output is not None:
        output = output.absolute()
        if output.exists():
            raise FileExistsError(f"{output} already exists: a set is written into a new folder")
        return SetPlace(output.parent, output.name)
    if backup_dir is None:
        raise ValueError("no --output given and BACKUP_DIR is not set")
    name = scheduled_name(now)
    candidate, number = name, 1
    while (backup_dir / candidate).exists():
        number += 1
        candidate = f"{name}-{number}"
    return SetPlace(backup_dir.absolute(), candidate)


@contextmanager
def folder_lock(parent: Path) -> Iterator[None]:
    """One backup at a time per folder (``BackupBusyError`` at once otherwise)."""
    parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    fd = os.open(parent / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupBusyError(f"another backup is writing into {parent}") from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def remove_partials(parent: Path) -> list[str]:
    """Remove what crashed runs left (call while holding ``folder_lock``)."""
    removed = []
    for entry in parent.iterdir():
        if entry.name.startswith(PARTIAL_PREFIX) and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
            removed.append(entry.name)
    return removed


def complete_sets(parent: Path) -> list[Path]:
    """Finished sets in ``parent`` (a folder with a readable manifest), oldest first
    by completion time."""
    found = []
    if not parent.is_dir():
        return found
    for entry in parent.iterdir():
        if entry.name.startswith(".") or entry.is_symlink() or not entry.is_dir():
            continue
        if not (entry / MANIFEST_NAME).is_file():
            continue
        try:
            found.append((read_manifest(entry).completed_at, entry.name, entry))
        except ManifestError:
            continue
    return [path for _, _, path in sorted(found)]


def previous_set(parent: Path) -> Path | None:
    """The newest finished set beside the new one: its unchanged files are linked."""
    sets = complete_sets(parent)
    return sets[-1] if sets else None


def prune(backup_dir: Path, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` scheduled sets; returns their names.
    Files still linked from a newer set stay on disk through that set."""
    scheduled = [s for s in complete_sets(backup_dir) if SCHEDULED_NAME.fullmatch(s.name)]
    doomed = scheduled[:-keep] if keep > 0 else scheduled
    for path in doomed:
        # Renamed first (atomic), so a crash mid-way never leaves a set that still
        # looks complete; remove_partials finishes the job next time.
        doomed_name = path.parent / f"{PARTIAL_PREFIX}{path.name}.deleting"
        path.rename(doomed_name)
        shutil.rmtree(doomed_name)
    return [path.name for path in doomed]
