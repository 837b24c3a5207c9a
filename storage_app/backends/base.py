"""The storage seam: one small interface over where stored media lives.

A backend keeps objects under *keys*, which are the plan's relative paths
(``uploads/{date}/{request_id}/original.mp4``, ``frames/...``, ``contact-sheets/...``,
``outputs/...``), checked by ``layout.check_relative_path`` before any use. What a
row records comes back in a ``StoredObject``: the key (``relative_path``), the
backend's URI (``storage_path``: an absolute path, or ``s3://bucket/key``), and
the size and SHA-256 computed while the bytes went by.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

from media_analysis.resilience import DependencyUnavailable
from storage_app.layout import UnsafePathError, check_relative_path

READ_CHUNK_SIZE = 1024 * 1024


# What a caller is told to wait when the object store does not answer: long enough
# for a store restarting, short enough that an upload script's retry is not idle.
OBJECT_STORE_RETRY_AFTER_SECONDS = 30


class ObjectStoreUnavailable(DependencyUnavailable):
    """The object store could not be used (unreachable, timing out, answering 5xx
    or refusing our credentials) after the client's own retries: the API answers
    503 ``object_store_unavailable`` with Retry-After, a worker's analysis is tried
    again later (analysis/tasks.py). Nothing was recorded."""

    def __init__(self, action: str, detail: str):
        super().__init__(
            "object_store",
            f"The object store did not answer while {action} ({detail}); nothing was"
            " changed. Try again shortly.",
            retry_after=OBJECT_STORE_RETRY_AFTER_SECONDS,
        )


@dataclass(frozen=True)
class StoredObject:
    """An object now complete under its key: what an index row records."""

    key: str  # the relative path, "/" separated
    uri: str  # what ``storage_path`` keeps
    size: int
    sha256: str


@dataclass(frozen=True)
class ObjectInfo:
    """One listed object. ``modified`` (aware, UTC) is when it was last written:
    housekeeping's grace for writes in flight; it takes no part in equality."""

    key: str
    size: int
    modified: datetime | None = field(default=None, compare=False)


class StorageBackend(ABC):
    """Where stored media lives. Every method takes keys, never absolute paths;
    a key outside the layout raises ``UnsafePathError``; a missing object is
    ``FileNotFoundError`` when read and no error when deleted."""

    name: str

    @abstractmethod
    def save_stream(self, key: str, source: Any, *, max_bytes: int | None = None) -> StoredObject:
        """Write ``source`` (byte chunks, bytes, a binary file, an ``UploadedFile``
        or a ``Path``, as ``writer.store_file`` takes) under ``key``, hashing on the
        way and holding a bounded amount in memory. Readers see the old object or
        the whole new one, never a part; on any error (``FileTooLargeError`` past
        ``max_bytes`` included) nothing new is left under ``key``."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A streaming binary reader of the object (close it, or use ``with``)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; an absent one is not an error."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with ``prefix`` (a plain string prefix, as S3
        has it), in key order; writes in progress are not listed."""

    @abstractmethod
    def url_for(self, key: str, expires: int) -> str | None:
        """A URL that serves the object for ``expires`` seconds without our
        credentials (presigned), or None where the service must stream it itself."""

    @abstractmethod
    def uri_for(self, key: str) -> str:
        """The ``storage_path`` value of ``key``."""

    def iter_chunks(self, key: str, chunk_size: int = READ_CHUNK_SIZE) -> Iterator[bytes]:
        """The object's bytes, ``chunk_size`` at a time."""
        with self.open(key) as stream:
            while chunk := stream.read(chunk_size):
                yield chunk

    def sha256_of(self, key: str) -> tuple[int, str]:
        """Size and SHA-256 of a stored object, read back as a stream."""
        digest = hashlib.sha256()
        size = 0
        for chunk in self.iter_chunks(key):
            digest.update(chunk)
            size += len(chunk)
        return size, digest.hexdigest()


def check_key(key: str) -> str:
    """``key`` if it is a relative path of the layout; ``UnsafePathError`` otherwise."""
    check_relative_path(key)
    return key


def check_list_prefix(prefix: str) -> str:
    """A listing prefix: empty, or the start of a key (the last part may be partial)."""
    if not isinstance(prefix, str):
        raise UnsafePathError(f"prefix must be a string, got {type(prefix).__name__}")
    if "\x00" in prefix or "\\" in prefix:
        raise UnsafePathError(f"prefix {prefix!r} contains a NUL byte or a Windows separator")
    if prefix.startswith("/") or any(part in {".", ".."} for part in prefix.split("/")):
        raise UnsafePathError(f"prefix {prefix!r} is absolute or has a '.' or '..' part")
    if "//" in prefix:
        raise UnsafePathError(f"prefix {prefix!r} has an empty part")
    return prefix
