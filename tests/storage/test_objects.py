"""storage_app/objects.py on each backend: a stored file's row facts, reading it
back, a local path for tools (the file itself on disk, a removed-after copy from
the bucket), discarding; rows are read where they say they are (a half-migrated
store), and temp/ never goes to the bucket."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date

import pytest
from django.db import transaction

from storage_app import objects
from storage_app.layout import Category, UnsafePathError
from storage_app.records import discard_on_error
from storage_app.writer import store_file
from tests.storage.conftest import S3_BUCKET

DAY = date(2026, 3, 4)
CONTENT = b"frame bytes " * 1000


def stored_frame(request_id=None):
    return objects.store(
        CONTENT,
        category=Category.FRAMES,
        request_id=request_id or uuid.uuid4(),
        name="frame_001.jpg",
        on_date=DAY,
    )


def test_a_stored_file_is_read_back_handed_to_tools_and_discarded(backend, storage_root):
    stored = stored_frame()

    assert stored.relative_path.startswith(f"frames/{DAY.isoformat()}/")
    assert (stored.size_bytes, stored.sha256) == (len(CONTENT), hashlib.sha256(CONTENT).hexdigest())
    if backend.name == "s3":
        assert stored.path is None
        assert stored.storage_path == backend.uri_for(stored.relative_path)
        assert stored.storage_path.startswith(f"s3://{S3_BUCKET}/")
    else:
        assert stored.storage_path == str(storage_root / stored.relative_path)
    row = (stored.relative_path, stored.storage_path)
    with objects.open_record(*row) as reader:
        assert reader.read() == CONTENT
    assert objects.record_exists(*row)

    work = storage_root / "temp" / str(uuid.uuid4())  # a worker's own temp/ folder
    with objects.local_file(*row, work_dir=work) as path:
        assert path.read_bytes() == CONTENT
    # The stored file stays; a downloaded copy does not.
    assert path.exists() == (backend.name == "filesystem")
    if backend.name == "s3":
        assert list(work.iterdir()) == []

    objects.discard(stored)
    assert not objects.record_exists(*row)
    with pytest.raises(FileNotFoundError):
        objects.local_path(*row, work_dir=work)


def test_temp_is_never_stored_through_here(backend):
    with pytest.raises(UnsafePathError, match="temp/"):
        objects.store(b"x", category=Category.TEMP, request_id=uuid.uuid4(), name="a.bin")


def test_a_rolled_back_row_leaves_no_object(object_store, storage_root):
    stored = stored_frame()
    with pytest.raises(RuntimeError), discard_on_error(stored), transaction.atomic():
        raise RuntimeError("the commit failed")
    assert not objects.record_exists(stored.relative_path, stored.storage_path)


def test_rows_are_read_where_they_say_they_are(storage_root, object_store, settings):
    settings.STORAGE_BACKEND = "filesystem"
    on_disk = store_file(
        b"old", category=Category.FRAMES, request_id=uuid.uuid4(), name="frame_001.jpg"
    )
    settings.STORAGE_BACKEND = "s3"  # switched; this row not migrated yet
    with objects.open_record(on_disk.relative_path, on_disk.storage_path) as reader:
        assert reader.read() == b"old"
    assert objects.presigned_url(on_disk.relative_path, on_disk.storage_path) is None

    in_bucket = stored_frame()
    elsewhere = in_bucket.storage_path.replace(object_store.prefix, "other-prefix")
    with pytest.raises(UnsafePathError, match="another bucket or prefix"):
        objects.open_record(in_bucket.relative_path, elsewhere)
    assert not objects.record_exists(in_bucket.relative_path, elsewhere)
