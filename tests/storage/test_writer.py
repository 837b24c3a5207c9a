"""The writer streams, hashes in the same pass, and renames into place atomically."""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile

from storage_app.layout import TEMPORARY_PREFIX, Category, frame_name
from storage_app.writer import (
    CHUNK_SIZE,
    FileTooLargeError,
    StoredFile,
    delete_file,
    sha256_of_file,
    store_file,
)

REQUEST_ID = uuid.UUID("5d1f6a0e-3c4b-4f7e-8a9b-1c2d3e4f5a6b")
DAY = date(2026, 3, 14)
PAYLOAD = bytes(range(256)) * 9000  # 2.2 MiB: several chunks


def store(source, **kwargs) -> StoredFile:
    kwargs.setdefault("category", Category.UPLOADS)
    kwargs.setdefault("request_id", REQUEST_ID)
    kwargs.setdefault("name", "original.mp4")
    kwargs.setdefault("on_date", DAY)
    return store_file(source, **kwargs)


def leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(TEMPORARY_PREFIX)]


def test_bytes_are_stored_with_size_and_sha256(storage_root):
    stored = store(PAYLOAD)
    assert stored.path.read_bytes() == PAYLOAD
    assert stored.size_bytes == len(PAYLOAD)
    assert stored.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert stored.relative_path == f"uploads/2026-03-14/{REQUEST_ID}/original.mp4"
    assert stored.path == storage_root / stored.relative_path
    assert stored.category is Category.UPLOADS
    assert leftovers(stored.path.parent) == []


def test_an_iterator_of_chunks_is_streamed(storage_root):
    pieces = [PAYLOAD[i : i + 100_000] for i in range(0, len(PAYLOAD), 100_000)]
    stored = store(iter(pieces), name="original.webm")
    assert stored.path.read_bytes() == PAYLOAD
    assert stored.sha256 == hashlib.sha256(PAYLOAD).hexdigest()


def test_a_file_object_is_read_in_chunks(storage_root):
    class CountingReader(io.BytesIO):
        sizes: list[int] = []

        def read(self, size=-1):
            self.sizes.append(size)
            return super().read(size)

    reader = CountingReader(PAYLOAD)
    stored = store(reader, category=Category.FRAMES, name=frame_name(1))
    assert stored.size_bytes == len(PAYLOAD)
    assert all(0 < size <= CHUNK_SIZE for size in reader.sizes)  # never read(-1)


@pytest.mark.parametrize("upload_class", [SimpleUploadedFile, TemporaryUploadedFile])
def test_django_uploaded_files_are_stored_through_chunks(storage_root, upload_class):
    if upload_class is SimpleUploadedFile:
        upload = SimpleUploadedFile("../../etc/passwd.mp4", PAYLOAD, "video/mp4")
    else:
        upload = TemporaryUploadedFile("../../evil name.mp4", "video/mp4", len(PAYLOAD), None)
        upload.write(PAYLOAD)
        upload.seek(0)
    stored = store(upload)
    assert stored.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    # The user's name is not part of the path.
    assert "passwd" not in str(stored.path) and "evil" not in str(stored.path)
    assert stored.name == "original.mp4"


def test_a_path_to_a_file_made_elsewhere_is_copied(storage_root, tmp_path):
    rendered = tmp_path / "sheet.jpg"
    rendered.write_bytes(PAYLOAD)
    stored = store(rendered, category=Category.CONTACT_SHEETS, name="contact_sheet.jpg")
    assert stored.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert rendered.exists()


def test_text_is_refused(storage_root):
    with pytest.raises(TypeError):
        store("not bytes")
    with pytest.raises(TypeError):
        store(iter([b"ok", "not bytes"]))
    with pytest.raises(TypeError):
        store(str(storage_root))  # a path as str is ambiguous: pass a Path


def test_a_failing_stream_leaves_no_file_under_any_name(storage_root):
    def broken():
        yield PAYLOAD[:1000]
        raise ConnectionError("download dropped")

    with pytest.raises(ConnectionError):
        store(broken())
    folder = storage_root / "uploads/2026-03-14" / str(REQUEST_ID)
    assert list(folder.iterdir()) == []


def test_a_failed_rewrite_keeps_the_previous_file_intact(storage_root):
    first = store(b"first version")

    def broken():
        yield b"second"
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        store(broken())
    assert first.path.read_bytes() == b"first version"
    assert leftovers(first.path.parent) == []


def test_a_rewrite_replaces_the_file_atomically(storage_root):
    store(b"first version")
    second = store(b"second")
    assert second.path.read_bytes() == b"second"
    assert second.sha256 == hashlib.sha256(b"second").hexdigest()


def test_max_bytes_stops_an_over_long_stream(storage_root):
    with pytest.raises(FileTooLargeError):
        store(iter([b"a" * 600, b"b" * 600]), max_bytes=1000)
    folder = storage_root / "uploads/2026-03-14" / str(REQUEST_ID)
    assert list(folder.iterdir()) == []
    assert store(b"a" * 1000, max_bytes=1000).size_bytes == 1000


def test_an_empty_source_gives_an_empty_file(storage_root):
    stored = store(b"", category=Category.OUTPUTS, name="summary.txt")
    assert stored.size_bytes == 0
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert stored.path.exists()


def test_delete_and_hash_helpers(storage_root):
    stored = store(PAYLOAD)
    assert sha256_of_file(stored.path) == (len(PAYLOAD), stored.sha256)
    assert delete_file(stored.path) == len(PAYLOAD)
    assert delete_file(stored.path) is None


def test_writes_into_uploads_are_refused_when_the_disk_is_critical(storage_root, settings):
    from storage_app.disk import InsufficientStorageError

    settings.STORAGE_DISK_WARNING_PERCENT = 0
    settings.STORAGE_DISK_CRITICAL_PERCENT = 0  # any disk is "full"
    with pytest.raises(InsufficientStorageError) as refused:
        store(PAYLOAD)
    assert refused.value.http_status == 507
    assert not (storage_root / "uploads").exists()
    # An accepted request's outputs still complete.
    assert store(b"{}", category=Category.OUTPUTS, name="result.json").size_bytes == 2
