"""The object store's side of a set: objects copied out of the bucket into the
set's ``files/`` (the same tree and manifest as a filesystem store's), and put
back into the bucket by a restore.

Copying streams each object (listed in key order, so the previous set's manifest
is walked in step, as ``files.copy_storage`` does) into the set while hashing it;
an object whose key, size and SHA-256 match the previous set's is then hard-linked
to that copy instead: the bucket is read in full, but a set costs the disk only
what changed. Restoring streams each file of the set to its key
(``save_stream``) and compares the size and SHA-256 computed on the way with the
manifest; a mismatch removes the object and stops the restore.

Only the bucket is copied: rows still on a local disk (a store half-way through
``migrate_storage``) show as missing in the set's consistency check.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path

from django.db.models import F, Q, TextField, Value
from django.db.models.functions import Concat

from storage_app.backends import StorageBackend
from storage_app.backup.files import (
    CHUNK_SIZE,
    SET_FILE_MODE,
    SET_FOLDER_MODE,
    CopyStats,
    PreviousSet,
    RestoredFiles,
    RestoreFileError,
    link_unchanged,
)
from storage_app.backup.manifest import FILES_DIR, EntryLog, FileEntry, iter_entries
from storage_app.layout import (
    TEMPORARY_PREFIX,
    UnsafePathError,
    check_relative_path,
    storage_root,
)
from storage_app.locations import S3_SCHEME
from storage_app.models import ContactSheet, MediaFile


def store_location(store: StorageBackend) -> str:
    """``s3://bucket/prefix/``: what the manifest records as the storage copied."""
    probe = "outputs/x"
    return store.uri_for(probe)[: -len(probe)]


def copy_objects(
    store: StorageBackend, set_dir: Path, previous: Path | None, entries: EntryLog
) -> CopyStats:
    """Copy every object of the layout into ``set_dir/files`` (see the module)."""
    stats = CopyStats()
    target = set_dir / FILES_DIR
    target.mkdir(mode=SET_FOLDER_MODE)
    earlier = PreviousSet(previous)
    for info in store.list(""):
        try:
            parts = check_relative_path(info.key)
        except UnsafePathError:
            continue  # not one of ours: a set holds only what a restore may put back
        destination = target.joinpath(*parts)
        os.makedirs(destination.parent, mode=SET_FOLDER_MODE, exist_ok=True)
        try:
            size, sha256 = _download(store, info.key, destination)
        except FileNotFoundError:
            stats.vanished += 1  # listed, then deleted by a writer
            continue
        linked = _relink_if_unchanged(earlier.find(info.key), destination, size, sha256)
        entries.add(FileEntry(info.key, size, sha256))
        stats.file_count += 1
        stats.total_bytes += size
        if linked:
            stats.linked_count += 1
            stats.linked_bytes += size
    return stats


def _download(store: StorageBackend, key: str, destination: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(destination, flags, SET_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as out, store.open(key) as source:
            while chunk := source.read(CHUNK_SIZE):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    return size, digest.hexdigest()


def _relink_if_unchanged(
    earlier: tuple[FileEntry, Path] | None, destination: Path, size: int, sha256: str
) -> bool:
    """Replace the fresh copy by a hard link to the previous set's identical one."""
    if earlier is None or (earlier[0].size, earlier[0].sha256) != (size, sha256):
        return False
    spare = destination.with_name(f"{TEMPORARY_PREFIX}{secrets.token_hex(8)}.part")
    os.rename(destination, spare)
    if link_unchanged(earlier[1], destination, size):
        spare.unlink()
        return True
    os.rename(spare, destination)  # no link possible: keep the copy
    return False


def bucket_has_objects(store: StorageBackend) -> bool:
    return next(iter(store.list("")), None) is not None


def restore_objects(store: StorageBackend, set_dir: Path, expected_count: int) -> RestoredFiles:
    """Put every file of the set back into the bucket under its key, checked."""
    restored = RestoredFiles()
    source_root = set_dir / FILES_DIR
    for entry in iter_entries(set_dir, expected_count=expected_count):
        parts = check_relative_path(entry.path)
        stored = store.save_stream(entry.path, source_root.joinpath(*parts))
        if (stored.size, stored.sha256) != (entry.size, entry.sha256):
            with contextlib.suppress(Exception):
                store.delete(entry.path)
            raise RestoreFileError(f"{entry.path} changed in the set since it was verified")
        restored.count += 1
        restored.bytes += entry.size
    return restored


def point_rows_at_store(store: StorageBackend | None) -> int:
    """After a restore, point every row with a relative path at where its file was
    restored: this bucket and prefix on the object store (whatever store the set
    came from); on the filesystem, rows that named a bucket get their path under
    the root (rows already on disk find their file by relative path, as ever)."""
    if store is not None:
        base = store_location(store)
        stale = ~Q(storage_path__startswith=base)
    else:
        base = f"{storage_root()}/"
        stale = Q(storage_path__startswith=S3_SCHEME)
    changed = 0
    for model in (MediaFile, ContactSheet):
        rows = model.objects.filter(stale).exclude(relative_path__isnull=True)
        changed += rows.exclude(relative_path="").update(
            storage_path=Concat(Value(base), F("relative_path"), output_field=TextField())
        )
    return changed
