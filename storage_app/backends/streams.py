"""A file-like view of a chunk iterator that hashes and counts what it hands out.

boto3's managed transfer reads a non-seekable file object part by part, in order,
and uploads the parts while it reads on: wrapping the chunks in this reader gives
a multipart upload whose size and SHA-256 are known when it completes, with at
most one chunk plus the part being assembled held here.
"""

from __future__ import annotations

import hashlib
import sys
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
            size = sys.maxsize  # everything left (only small sources are read so)
        pieces: list[memoryview] = []
        wanted = size
        while wanted > 0 and (self._pending or self._pull()):
            piece = self._pending[:wanted]
            pieces.append(piece)
            self._pending = self._pending[len(piece) :]
            wanted -= len(piece)
        # One allocation of the part's size: no growing buffer, no second copy.
        return b"".join(pieces)

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
