"""The storage seam: the filesystem and the s3 backend (on a real SeaweedFS) behave
alike through one interface; the filesystem one writes exactly what the writer does."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from datetime import UTC, date, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from storage_app.backends import ObjectInfo
from storage_app.backends.filesystem import FilesystemBackend
from storage_app.layout import (
    TEMPORARY_PREFIX,
    Category,
    UnsafePathError,
    build_path,
    frame_name,
    object_key,
)
from storage_app.writer import FileTooLargeError, store_file

REQUEST_ID = uuid.UUID("0b6f3f1e-9a53-4c44-9d55-3f0c3c1f7a10")
OTHER_ID = uuid.UUID("7e0a1c55-2f0e-4b8e-a1f4-6c2d8d1e9b33")
DAY = date(2026, 3, 14)
MIB = 1024 * 1024


def key(category=Category.UPLOADS, name="original.mp4", request_id=REQUEST_ID) -> str:
    return object_key(category, request_id, name, on_date=DAY)


def generated(total: int, chunk: int = 256 * 1024, seed: int = 1):
    """Distinct chunks (a counter in each), generated on demand: never one buffer."""
    block = hashlib.sha256(str(seed).encode()).digest() * (chunk // 32)
    sent = 0
    index = 0
    while sent < total:
        piece = (index.to_bytes(8, "big") + block)[: min(chunk, total - sent)]
        yield piece
        sent += len(piece)
        index += 1


def digest_of(chunks) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def test_a_streamed_write_reads_back_with_its_size_and_sha256(backend):
    total = 11 * MIB + 12345  # several 5 MiB parts on s3, and a short last one
    expected_size, expected_sha = digest_of(generated(total))

    stored = backend.save_stream(key(), generated(total))

    assert (stored.key, stored.size, stored.sha256) == (key(), expected_size, expected_sha)
    assert stored.uri == backend.uri_for(key())
    assert backend.exists(key())
    assert backend.sha256_of(key()) == (expected_size, expected_sha)
    with backend.open(key()) as stream:
        first = stream.read(1000)
    assert first == b"".join(generated(total))[:1000]


@pytest.mark.parametrize(
    "make_source",
    [
        lambda: b"plain bytes",
        lambda: io.BytesIO(b"plain bytes"),
        lambda: SimpleUploadedFile("x.mp4", b"plain bytes"),
        lambda: [b"plain ", b"", memoryview(b"bytes")],
    ],
    ids=["bytes", "file", "uploaded-file", "chunks"],
)
def test_every_source_the_writer_takes_is_taken(backend, make_source):
    stored = backend.save_stream(key(), make_source())

    assert stored.size == len(b"plain bytes")
    assert stored.sha256 == hashlib.sha256(b"plain bytes").hexdigest()
    assert b"".join(backend.iter_chunks(key(), chunk_size=3)) == b"plain bytes"


def test_a_path_source_is_copied(backend, tmp_path):
    made = tmp_path / "rendered.jpg"
    made.write_bytes(b"\xff\xd8 jpeg-ish")

    stored = backend.save_stream(key(Category.CONTACT_SHEETS, "contact_sheet.jpg"), made)

    assert stored.size == made.stat().st_size
    assert made.exists()


def test_an_empty_object(backend):
    stored = backend.save_stream(key(Category.OUTPUTS, "summary.txt"), b"")

    assert (stored.size, stored.sha256) == (0, hashlib.sha256(b"").hexdigest())
    assert backend.exists(key(Category.OUTPUTS, "summary.txt"))
    assert list(backend.iter_chunks(key(Category.OUTPUTS, "summary.txt"))) == []


def test_a_second_write_replaces_the_object(backend):
    backend.save_stream(key(), b"first version, longer")
    stored = backend.save_stream(key(), b"second")

    assert stored.size == 6
    assert b"".join(backend.iter_chunks(key())) == b"second"
    assert [info.key for info in backend.list(key())] == [key()]


def test_an_over_long_stream_keeps_the_old_object_and_nothing_new(backend):
    backend.save_stream(key(), b"kept")

    with pytest.raises(FileTooLargeError):
        backend.save_stream(key(), generated(12 * MIB), max_bytes=7 * MIB)

    assert b"".join(backend.iter_chunks(key())) == b"kept"
    assert [info.key for info in backend.list("")] == [key()]


def test_listing_by_prefix_in_key_order_with_sizes(backend):
    frames = [key(Category.FRAMES, frame_name(i)) for i in (3, 1, 2)]
    for index, frame in enumerate(frames):
        backend.save_stream(frame, b"f" * (index + 1))
    backend.save_stream(key(Category.FRAMES, frame_name(1), OTHER_ID), b"other")
    backend.save_stream(key(), b"upload")
    folder = f"frames/{DAY.isoformat()}/{REQUEST_ID}/"

    assert list(backend.list(folder)) == [
        ObjectInfo(key=folder + "frame_001.jpg", size=2),
        ObjectInfo(key=folder + "frame_002.jpg", size=3),
        ObjectInfo(key=folder + "frame_003.jpg", size=1),
    ]
    assert [info.key for info in backend.list(folder + "frame_00")] == [
        folder + "frame_001.jpg",
        folder + "frame_002.jpg",
        folder + "frame_003.jpg",
    ]
    assert len(list(backend.list("frames/"))) == 4
    assert [info.key for info in backend.list("upl")] == [key()]
    assert sorted(info.key for info in backend.list("")) == [info.key for info in backend.list("")]
    assert list(backend.list("outputs/")) == []
    now = datetime.now(UTC)
    for info in backend.list(""):
        assert abs((now - info.modified).total_seconds()) < 120
    assert list(backend.list(f"frames/{DAY.isoformat()}/{REQUEST_ID}x")) == []


def test_delete_removes_and_is_idempotent(backend):
    backend.save_stream(key(), b"bytes")

    backend.delete(key())
    backend.delete(key())

    assert not backend.exists(key())
    assert list(backend.list("uploads/")) == []
    with pytest.raises(FileNotFoundError):
        backend.open(key())


def test_a_missing_object_is_file_not_found(backend):
    assert not backend.exists(key())
    with pytest.raises(FileNotFoundError):
        backend.open(key())


@pytest.mark.parametrize(
    "bad_key",
    [
        "../outside.txt",
        "/etc/passwd",
        "uploads/../../outside.txt",
        "uploads/2026-03-14/x\\y.mp4",
        "elsewhere/2026-03-14/a.mp4",
        "uploads",
        "uploads/2026-03-14/%2e%2e/a.mp4",
        "uploads/2026-03-14/a\x00.mp4",
    ],
)
def test_keys_outside_the_layout_are_refused_by_every_method(backend, bad_key):
    for call in (
        lambda: backend.save_stream(bad_key, b"x"),
        lambda: backend.open(bad_key),
        lambda: backend.delete(bad_key),
        lambda: backend.exists(bad_key),
        lambda: backend.url_for(bad_key, 60),
        lambda: backend.uri_for(bad_key),
    ):
        with pytest.raises(UnsafePathError):
            call()


@pytest.mark.parametrize("bad_prefix", ["/uploads", "../", "uploads/../", "a//b", "x\\y"])
def test_unsafe_listing_prefixes_are_refused(backend, bad_prefix):
    with pytest.raises(UnsafePathError):
        list(backend.list(bad_prefix))


# ------------------------------------------------------------- filesystem only


def test_the_filesystem_backend_writes_what_store_file_writes(storage_root):
    backend = FilesystemBackend()
    via_writer = store_file(
        b"same bytes", category=Category.UPLOADS, request_id=REQUEST_ID, name="original.mp4",
        on_date=DAY,
    )  # fmt: skip
    os.unlink(via_writer.path)

    stored = backend.save_stream(key(), b"same bytes")

    path = build_path(Category.UPLOADS, REQUEST_ID, "original.mp4", on_date=DAY)
    assert stored.key == via_writer.relative_path == key()
    assert stored.uri == str(via_writer.path) == str(path)
    assert (stored.size, stored.sha256) == (via_writer.size_bytes, via_writer.sha256)
    assert path.read_bytes() == b"same bytes"
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    assert [p.name for p in path.parent.iterdir()] == ["original.mp4"]  # no .tmp- left
    assert backend.url_for(key(), 60) is None  # served by the service itself


def test_the_filesystem_listing_skips_writes_in_progress_and_symlinks(storage_root, outside):
    backend = FilesystemBackend()
    backend.save_stream(key(), b"real")
    folder = build_path(Category.UPLOADS, REQUEST_ID, "original.mp4", on_date=DAY).parent
    (folder / f"{TEMPORARY_PREFIX}abc.part").write_bytes(b"half")
    (outside / "secret.txt").write_bytes(b"secret")
    (folder / "metadata.json").symlink_to(outside / "secret.txt")

    assert [info.key for info in backend.list("")] == [key()]
    with pytest.raises((OSError, UnsafePathError)):
        backend.open(key(name="metadata.json"))
