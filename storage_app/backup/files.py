"""The storage side of a set: copying the stored files out, and back in.

Everything is streamed: files are read in 1 MiB chunks, listed one folder at a
time, and compared with the previous set's manifest by walking both in the same
(byte) order, so memory stays flat however many files there are.

A file whose path, size and SHA-256 match the previous set's is hard-linked to
it instead of copied: a set costs the disk only what changed since the last one.
Files in a set are never modified afterwards (a change would show in every set
sharing the inode), and a restore copies them, never links them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from storage_app.backup.manifest import (
    FILES_DIR,
    Consistency,
    EntryLog,
    FileEntry,
    iter_entries,
    read_manifest,
)
from storage_app.layout import (
    LOCK_FILENAME,
    TEMPORARY_PREFIX,
    Category,
    ensure_inside_root,
    make_folders,
    make_root,
)
from storage_app.locking import StorageBusyError, storage_lock

CHUNK_SIZE = 1024 * 1024
SET_FILE_MODE = 0o640
SET_FOLDER_MODE = 0o750
RESTORED_FILE_MODE = 0o644
MAX_EXAMPLES = 20


class RestoreFileError(RuntimeError):
    """A file of the set did not match its manifest entry while being restored."""


@dataclass
class CopyStats:
    file_count: int = 0
    total_bytes: int = 0
    linked_count: int = 0
    linked_bytes: int = 0
    vanished: int = 0  # listed, then gone before it was read (deleted by a writer)

    @property
    def copied_bytes(self) -> int:
        return self.total_bytes - self.linked_bytes


def walk_storage(root: Path) -> Iterator[tuple[str, str]]:
    """``(relative path, absolute path)`` of every regular file under ``root``
    except ``temp/``, partial writes (``.tmp-*``) and the lock file, in byte order
    of the relative path. Symlinks are neither followed nor listed."""
    yield from _walk(str(root), "")


def _walk(folder: str, prefix: str) -> Iterator[tuple[str, str]]:
    keyed = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                if not (prefix == "" and entry.name == Category.TEMP.value):
                    # "name/" sorts a folder where its files' full paths sort.
                    keyed.append((entry.name + "/", entry.path, True))
            elif entry.is_file(follow_symlinks=False):
                skip = entry.name.startswith(TEMPORARY_PREFIX) or (
                    prefix == "" and entry.name == LOCK_FILENAME
                )
                if not skip:
                    keyed.append((entry.name, entry.path, False))
    keyed.sort()
    for key, path, is_folder in keyed:
        if is_folder:
            yield from _walk(path, prefix + key)
        else:
            yield prefix + key, path


def copy_storage(root: Path, set_dir: Path, previous: Path | None, entries: EntryLog) -> CopyStats:
    """Copy (or hard-link from ``previous``) every stored file into ``set_dir/files``,
    adding one manifest entry per file to ``entries``."""
    stats = CopyStats()
    target = set_dir / FILES_DIR
    target.mkdir(mode=SET_FOLDER_MODE)
    earlier = PreviousSet(previous)
    made_folder = ""
    for relative, source in walk_storage(root):
        destination = target / relative
        parent = str(destination.parent)
        if parent != made_folder:
            os.makedirs(parent, mode=SET_FOLDER_MODE, exist_ok=True)
            made_folder = parent
        try:
            entry, linked = _copy_or_link(relative, source, destination, earlier.find(relative))
        except FileNotFoundError:
            stats.vanished += 1
            continue
        entries.add(entry)
        stats.file_count += 1
        stats.total_bytes += entry.size
        if linked:
            stats.linked_count += 1
            stats.linked_bytes += entry.size
    return stats


class PreviousSet:
    """The previous set's entries, walked forward in step with the storage."""

    def __init__(self, set_dir: Path | None):
        self.files = set_dir / FILES_DIR if set_dir else None
        self._entries = (
            iter_entries(set_dir, expected_count=read_manifest(set_dir).storage.file_count)
            if set_dir
            else iter(())
        )
        self._current: FileEntry | None = next(self._entries, None)

    def find(self, relative: str) -> tuple[FileEntry, Path] | None:
        while self._current is not None and self._current.path < relative:
            self._current = next(self._entries, None)
        if self._current is None or self._current.path != relative or self.files is None:
            return None
        return self._current, self.files / relative


def _copy_or_link(
    relative: str, source: str, destination: Path, earlier: tuple[FileEntry, Path] | None
) -> tuple[FileEntry, bool]:
    if earlier is not None:
        entry, earlier_path = earlier
        if os.stat(source).st_size == entry.size:
            size, sha256 = hash_file(source)
            if (size, sha256) == (entry.size, entry.sha256) and link_unchanged(
                earlier_path, destination, size
            ):
                return FileEntry(relative, size, sha256), True
    size, sha256 = _copy(source, destination)
    return FileEntry(relative, size, sha256), False


def link_unchanged(existing: Path, destination: Path, size: int) -> bool:
    """Hard-link; False when the previous copy is gone or truncated, or the
    filesystem refuses (another device, too many links): the file is copied."""
    try:
        if os.stat(existing).st_size != size:
            return False
        os.link(existing, destination)
    except OSError:
        return False
    return True


def _copy(source: str, destination: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with open(source, "rb") as src:
        fd = os.open(destination, flags, SET_FILE_MODE)
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(CHUNK_SIZE):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    return size, digest.hexdigest()


def hash_file(path: str | Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def compare_rows(
    rows: Iterable[tuple[str, str | None]], entries: Iterable[FileEntry]
) -> Consistency:
    """Merge the snapshot's live rows with the copied files (both sorted by path):
    a row whose file is not in the set, or is there with another checksum."""
    live = missing = mismatched = 0
    examples: list[str] = []
    files = iter(entries)
    current = next(files, None)
    for relative, checksum in rows:
        live += 1
        while current is not None and current.path < relative:
            current = next(files, None)
        if current is None or current.path != relative:
            missing += 1
            _example(examples, f"missing: {relative}")
        elif checksum and checksum.strip().lower() != current.sha256:
            mismatched += 1
            _example(examples, f"checksum differs: {relative}")
    return Consistency(live_rows=live, missing=missing, mismatched=mismatched, examples=examples)


def _example(examples: list[str], text: str) -> None:
    if len(examples) < MAX_EXAMPLES:
        examples.append(text)


@contextlib.contextmanager
def storage_locked(wait_seconds: float, on_wait: Callable[[str], None]) -> Iterator[None]:
    """Hold the storage lock for the block, so cleanup cannot delete a file the
    snapshot still references while it is copied. A cleanup (or sanity check)
    already running is waited for, up to ``wait_seconds``; then
    ``StorageBusyError``."""
    deadline = time.monotonic() + wait_seconds
    announced = False
    while True:
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(storage_lock("backup"))
            break
        except StorageBusyError as exc:
            stack.close()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise
            if not announced:
                on_wait(f"waiting up to {wait_seconds:.0f} s for the storage lock: {exc}")
                announced = True
            time.sleep(min(2.0, remaining))
    with stack:
        yield


# ------------------------------------------------------------------- restoring
def storage_has_files(root: Path) -> bool:
    """True if anything but the lock file (and empty folders) is under ``root``."""
    if not root.exists():
        return False
    for current, _folders, names in os.walk(root):
        for name in names:
            if not (current == str(root) and name == LOCK_FILENAME):
                return True
    return False


@dataclass
class RestoredFiles:
    count: int = 0
    bytes: int = 0


def restore_files(set_dir: Path, expected_count: int) -> RestoredFiles:
    """Copy every file of the set into the storage root (folders 755, files 644),
    each through a temporary name and checked against its manifest entry while
    copied."""
    root = make_root()
    source_root = set_dir / FILES_DIR
    restored = RestoredFiles()
    made_folder: Path | None = None
    for entry in iter_entries(set_dir, expected_count=expected_count):
        destination = root.joinpath(*entry.path.split("/"))
        if destination.parent != made_folder:
            made_folder = make_folders(destination.parent)
        ensure_inside_root(destination.parent)
        _copy_checked(source_root / entry.path, destination, entry)
        restored.count += 1
        restored.bytes += entry.size
    return restored


def _copy_checked(source: Path, destination: Path, entry: FileEntry) -> None:
    temporary = destination.parent / f"{TEMPORARY_PREFIX}{secrets.token_hex(8)}.part"
    digest = hashlib.sha256()
    size = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        with open(source, "rb") as src:
            fd = os.open(temporary, flags, RESTORED_FILE_MODE)
            with os.fdopen(fd, "wb") as out:
                os.fchmod(out.fileno(), RESTORED_FILE_MODE)
                while chunk := src.read(CHUNK_SIZE):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
        if (size, digest.hexdigest()) != (entry.size, entry.sha256):
            raise RestoreFileError(f"{entry.path} changed in the set since it was verified")
        os.replace(temporary, destination)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
