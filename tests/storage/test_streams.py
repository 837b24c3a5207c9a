"""The reader boto3 uploads from: exact reads across chunk edges, hashing once."""

from __future__ import annotations

import hashlib

import pytest

from storage_app.backends.streams import HashingReader
from storage_app.writer import FileTooLargeError


def test_reads_cross_chunk_edges_and_hash_every_byte_once():
    chunks = [b"abc", b"", memoryview(b"defgh"), b"i"]
    reader = HashingReader(chunks)

    assert reader.seekable() is False
    assert [reader.read(4), reader.read(4), reader.read(4), reader.read(4)] == [
        b"abcd",
        b"efgh",
        b"i",
        b"",
    ]
    assert reader.size == 9
    assert reader.hexdigest() == hashlib.sha256(b"abcdefghi").hexdigest()


def test_read_without_a_size_reads_the_rest():
    reader = HashingReader([b"ab", b"cd"])
    assert reader.read(1) == b"a"
    assert reader.read() == b"bcd"
    assert reader.read() == b""


def test_past_max_bytes_a_read_raises():
    reader = HashingReader([b"x" * 6, b"y" * 6], max_bytes=10)
    assert reader.read(6) == b"x" * 6
    with pytest.raises(FileTooLargeError):
        reader.read(6)
