"""Streamed, hashed, atomic writes into the storage layout.

One pass over the source computes size and SHA-256 while writing chunk by chunk
to a temporary file in the destination folder; the file is fsynced, renamed over
its final name, and the folder is fsynced. A crash therefore leaves at most a
``.tmp-*`` file (cleanup removes stale ones), never a half-written final name.

The source may be ``bytes`` (a generated image), an iterable of byte chunks (a
download), a binary file object, a Django ``UploadedFile`` (its ``chunks()``), or
a ``pathlib.Path`` to a file made elsewhere (it is copied, not moved).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import secrets
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from media_analysis.errors import ServiceError
from storage_app.disk import InsufficientStorageError, ensure_space_for_write
from storage_app.layout import (
    FILE_MODE,
    TEMPORARY_PREFIX,
    Category,
    build_path,
    canonical_request_id,
    ensure_inside_root,
    make_folders,
    relative_to_root,
)

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
# Writes into these categories bring new media in; they are refused when the disk
# is critical. Frames, sheets and outputs of an accepted request still complete.
SPACE_CHECKED_CATEGORIES = frozenset({Category.UPLOADS})


class FileTooLargeError(ServiceError):
    """The source exceeded ``max_bytes``; nothing was kept."""

    http_status = 413

    def __init__(self, max_bytes: int, *, code: str = "file_too_large", field: str | None = None):
        super().__init__(code, f"The file exceeds the limit of {max_bytes} bytes.", field=field)
        self.max_bytes = max_bytes


@dataclass(frozen=True)
class StoredFile:
    """A file now under its final name: what a ``media_files`` row records."""

    category: Category
    request_id: str
    name: str
    path: Path | None  # absolute, resolved; None for an object in an object store
    relative_path: str  # relative to the storage root, "/" separated: the object key
    size_bytes: int
    sha256: str
    uri: str | None = None  # the object store's s3://bucket/key (None on the filesystem)

    @property
    def storage_path(self) -> str:
        """What the row's ``storage_path`` keeps: the absolute path, or the URI."""
        return self.uri if self.uri is not None else str(self.path)


def store_file(
    source: Any,
    *,
    category: Category | str,
    request_id: uuid.UUID | str,
    name: str,
    on_date: date | datetime | None = None,
    max_bytes: int | None = None,
    expected_bytes: int = 0,
    chunk_size: int = CHUNK_SIZE,
) -> StoredFile:
    """Stream ``source`` to ``{category}/{date}/{request_id}/{name}`` atomically.

    ``name`` is one of ours (``layout.original_upload_name(mime)``, ``frame_name(i)``,
    ``METADATA_NAME`` ...), never a user's filename. ``max_bytes`` aborts an over-long
    stream with ``FileTooLargeError``. Writes into uploads first call
    ``ensure_space_for_write(expected_bytes)``; running out of space mid-write raises
    ``InsufficientStorageError`` too. An existing file of that name is replaced
    atomically (a retried task rewrites the same path).
    """
    category = Category(category)
    final_path = build_path(category, request_id, name, on_date=on_date)
    if category in SPACE_CHECKED_CATEGORIES:
        ensure_space_for_write(expected_bytes)
    size, sha256 = write_into_place(final_path, iter_chunks(source, chunk_size), max_bytes)
    stored = StoredFile(
        category=category,
        request_id=canonical_request_id(request_id),
        name=final_path.name,
        path=final_path,
        relative_path=relative_to_root(final_path),
        size_bytes=size,
        sha256=sha256,
    )
    logger.info(
        "stored file",
        extra={"relative_path": stored.relative_path, "size_bytes": size, "sha256": sha256},
    )
    return stored


def write_into_place(
    final_path: Path, chunks: Iterable[bytes | memoryview], max_bytes: int | None = None
) -> tuple[int, str]:
    """Write ``chunks`` to ``final_path`` (inside the root, its folders made as
    needed) through a temporary file and an atomic rename; return size and SHA-256.
    ``store_file`` and the filesystem backend (``storage_app.backends``) both write
    through here."""
    folder = make_folders(final_path.parent)
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        # The folder is pinned by its descriptor: check where it really is, so a
        # symlink swapped in after the path check cannot redirect the write.
        ensure_inside_root(_real_path_of(dir_fd, folder))
        return _write_atomically(dir_fd, final_path.name, iter(chunks), max_bytes)
    finally:
        os.close(dir_fd)


def delete_file(path: Path) -> int | None:
    """Delete one stored file (never a folder; a symlink is removed, not followed).
    Returns the bytes freed, or None if it was already gone."""
    path = Path(path)
    ensure_inside_root(path.parent)
    try:
        size = os.lstat(path).st_size
        os.unlink(path)
    except FileNotFoundError:
        return None
    return size


def sha256_of_file(path: Path, chunk_size: int = CHUNK_SIZE) -> tuple[int, str]:
    """Size and SHA-256 of a file on disk, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _write_atomically(
    dir_fd: int, name: str, chunks: Iterator[bytes | memoryview], max_bytes: int | None
) -> tuple[int, str]:
    temporary = f"{TEMPORARY_PREFIX}{secrets.token_hex(8)}.part"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    digest = hashlib.sha256()
    size = 0
    try:
        fd = os.open(temporary, flags, FILE_MODE, dir_fd=dir_fd)
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), FILE_MODE)  # exactly 644, whatever the umask
            for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise FileTooLargeError(max_bytes)
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        os.fsync(dir_fd)  # make the rename itself durable
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary, dir_fd=dir_fd)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InsufficientStorageError(
                "Storage ran out of space while writing; the partial file was removed."
            ) from exc
        raise
    return size, digest.hexdigest()


def iter_chunks(source: Any, chunk_size: int) -> Iterator[bytes | memoryview]:
    """Chunks of ``source`` without ever holding more than one chunk (plus whatever
    the source itself holds, e.g. a ``bytes`` object) in memory."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source).cast("B")
        for start in range(0, len(view), chunk_size):
            yield view[start : start + chunk_size]
        return
    if isinstance(source, str):
        raise TypeError("store_file() needs bytes, not str: encode text first")
    if isinstance(source, os.PathLike):  # a file made elsewhere, e.g. a rendered image
        with open(source, "rb") as handle:
            yield from iter_chunks(handle, chunk_size)
        return
    if callable(getattr(source, "chunks", None)):  # Django File / UploadedFile
        yield from _checked(source.chunks(chunk_size))
        return
    if callable(getattr(source, "read", None)):  # a binary file object
        while chunk := source.read(chunk_size):
            yield from _checked((chunk,))
        return
    if isinstance(source, Iterable):
        yield from _checked(source)
        return
    raise TypeError(f"cannot store a {type(source).__name__}")


def _checked(chunks: Iterable[Any]) -> Iterator[bytes | memoryview]:
    for chunk in chunks:
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise TypeError(f"chunks must be bytes, got {type(chunk).__name__}")
        if chunk:
            yield chunk


def _real_path_of(dir_fd: int, fallback: Path) -> Path:
    proc_link = f"/proc/self/fd/{dir_fd}"
    try:
        return Path(os.readlink(proc_link))
    except OSError:  # no /proc (not Linux): resolve by name instead
        return fallback.resolve()
