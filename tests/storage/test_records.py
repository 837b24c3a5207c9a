"""Rows for stored files: fields, expiry from the database clock, idempotent retries,
and no file left behind when the transaction fails."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction

from storage_app.layout import Category, original_upload_name
from storage_app.models import ContactSheet, MediaFile
from storage_app.records import (
    discard_on_error,
    indexed_paths,
    record_contact_sheet,
    record_media_file,
)
from storage_app.writer import store_file

pytestmark = pytest.mark.django_db


def test_a_row_records_everything_about_the_file(storage_root, make_request):
    request = make_request()
    stored = store_file(
        b"video bytes",
        category=Category.UPLOADS,
        request_id=request.id,
        name=original_upload_name("video/mp4"),
    )
    row = record_media_file(stored, mime_type="video/mp4", original_path="My Holiday (1).MP4")
    row = MediaFile.objects.get(pk=row.pk)
    assert row.request_id == request.id
    assert row.filename == "original.mp4"
    assert row.original_path == "My Holiday (1).MP4"  # kept, never part of the path
    assert row.storage_path == str(storage_root / stored.relative_path)
    assert row.relative_path == stored.relative_path
    assert row.size_bytes == 11
    assert row.mime_type == "video/mp4"
    assert row.checksum == stored.sha256
    assert row.retention_days == 7
    assert row.expires_at - row.uploaded_at == timedelta(days=7)
    assert row.deleted_at is None


def test_outputs_are_kept_without_expiry(storage_root, make_request):
    request = make_request()
    stored = store_file(b"{}", category=Category.OUTPUTS, request_id=request.id, name="result.json")
    row = record_media_file(stored, mime_type="application/json")
    assert row.expires_at is None
    assert row.retention_days is None


def test_retention_follows_the_setting(storage_root, make_request, settings):
    settings.STORAGE_RETENTION_DAYS = {**settings.STORAGE_RETENTION_DAYS, "frames": 2}
    request = make_request()
    stored = store_file(
        b"jpg", category=Category.FRAMES, request_id=request.id, name="frame_001.jpg"
    )
    row = record_media_file(stored, mime_type="image/jpeg")
    assert row.retention_days == 2
    assert row.expires_at - row.uploaded_at == timedelta(days=2)


def test_recording_the_same_path_again_updates_the_row(storage_root, make_request):
    request = make_request()
    first = store_file(
        b"one", category=Category.FRAMES, request_id=request.id, name="frame_001.jpg"
    )
    row = record_media_file(first, mime_type="image/jpeg")
    again = store_file(
        b"two!", category=Category.FRAMES, request_id=request.id, name="frame_001.jpg"
    )
    row_again = record_media_file(again, mime_type="image/jpeg")
    assert row_again.pk == row.pk
    assert MediaFile.objects.filter(relative_path=first.relative_path).count() == 1
    assert MediaFile.objects.get(pk=row.pk).size_bytes == 4


def test_temp_files_are_not_indexed(storage_root, make_request):
    request = make_request()
    stored = store_file(b"x", category=Category.TEMP, request_id=request.id, name="scratch.bin")
    with pytest.raises(ValueError):
        record_media_file(stored, mime_type=None)


def test_a_rolled_back_transaction_removes_the_file(storage_root, make_request):
    request = make_request()
    stored = store_file(b"x", category=Category.UPLOADS, request_id=request.id, name="original.bin")
    with pytest.raises(RuntimeError), discard_on_error(stored), transaction.atomic():
        record_media_file(stored, mime_type=None)
        raise RuntimeError("request update failed")
    assert not stored.path.exists()
    assert not MediaFile.objects.filter(relative_path=stored.relative_path).exists()


def test_a_committed_transaction_keeps_file_and_row(storage_root, make_request):
    request = make_request()
    stored = store_file(b"x", category=Category.UPLOADS, request_id=request.id, name="original.bin")
    with discard_on_error(stored), transaction.atomic():
        record_media_file(stored, mime_type=None)
    assert stored.path.exists()
    assert MediaFile.objects.filter(relative_path=stored.relative_path).exists()


def test_contact_sheet_rows(storage_root, make_request):
    request = make_request()
    stored = store_file(
        b"jpeg", category=Category.CONTACT_SHEETS, request_id=request.id, name="contact_sheet.jpg"
    )
    sheet = record_contact_sheet(stored, frames_count=6, grid_layout="3x2")
    sheet = ContactSheet.objects.get(pk=sheet.pk)
    assert sheet.relative_path == stored.relative_path
    assert sheet.file_size_bytes == 4
    assert sheet.checksum == stored.sha256
    assert sheet.grid_layout == "3x2"
    assert sheet.resolution == "1920x1080"
    assert sheet.created_at is not None
    frames = store_file(b"f", category=Category.FRAMES, request_id=request.id, name="frame_001.jpg")
    with pytest.raises(ValueError):
        record_contact_sheet(frames, frames_count=1)


def test_indexed_paths_knows_live_rows_only(storage_root, make_request):
    request = make_request()
    live = store_file(b"1", category=Category.FRAMES, request_id=request.id, name="frame_001.jpg")
    gone = store_file(b"2", category=Category.FRAMES, request_id=request.id, name="frame_002.jpg")
    record_media_file(live, mime_type="image/jpeg")
    row = record_media_file(gone, mime_type="image/jpeg")
    MediaFile.objects.filter(pk=row.pk).update(deleted_at=row.uploaded_at)
    sheet_file = store_file(
        b"s", category=Category.CONTACT_SHEETS, request_id=request.id, name="contact_sheet.jpg"
    )
    record_contact_sheet(sheet_file, frames_count=1)
    prefix = live.relative_path.rsplit("/", 1)[0] + "/"
    assert indexed_paths(prefix) == {live.relative_path}
    assert indexed_paths(sheet_file.relative_path.rsplit("/", 1)[0] + "/") == {
        sheet_file.relative_path
    }
