"""A file-like view of a chunk iterator that hashes and counts what it hands out.

boto3's managed transfer reads a non-seekable file object part by part, in order,
and uploads the parts while it reads on: wrapping the chunks in this reader gives
a multipart upload whose size and SHA-256 are known when it completes, with at
most one chunk plus the part being assembled held here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from storage_app.writer import FileTooLargeError


class HashingReader:
    """``read(n)`` over ``chunks``; ``size`` and ``hexdigest()`` cover every byte
    read so far. Past ``max_bytes`` a read raises ``FileTooLargeError``."""

    def __init__(self, chunks: Iterable[bytes | memoryview], max_bytes: int | None = None):
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")
        self._digest = hashlib.sha256()
        self._max_bytes = max_bytes
        self.size = 0
        self.closed = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False  # so the uploader never rewinds: each byte is hashed once

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = float("inf")  # everything left (only small sources are read so)
        out = bytearray()
        while len(out) < size:
            if not self._pending and not self._pull():
                break
            take = self._pending[: int(min(size - len(out), len(self._pending)))]
            out += take
            self._pending = self._pending[len(take) :]
        return bytes(out)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()

    def close(self) -> None:
        self.closed = True

    def _pull(self) -> bool:
        """Take the next non-empty chunk into ``_pending``; False at the end."""
        for chunk in self._chunks:
            view = memoryview(chunk).cast("B")
            if not view:
                continue
            self.size += len(view)
            if self._max_bytes is not None and self.size > self._max_bytes:
                raise FileTooLargeError(self._max_bytes)
            self._digest.update(view)
            self._pending = view
            return True
        return False
