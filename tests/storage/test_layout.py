"""Paths are built from category, date and request id only, and never leave the root."""

from __future__ import annotations

import os
import stat
import uuid
from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from storage_app.layout import (
    Category,
    UnsafePathError,
    build_path,
    canonical_request_id,
    extension_for_mime,
    file_inside_root,
    frame_name,
    original_upload_name,
    path_of_record,
    relative_to_root,
    resolve_relative,
    retention_for,
    validate_name,
)
from storage_app.writer import store_file

REQUEST_ID = uuid.UUID("0b7c3a52-8d0e-4a4b-9a57-0b0f3c1d2e3f")
DAY = date(2026, 3, 14)

TRAVERSAL_NAMES = [
    "../../etc/passwd",
    "..",
    ".",
    "",
    "%2e%2e/passwd",
    "%2e%2e",
    "..%2f..%2fetc%2fpasswd",
    "/etc/passwd",
    "a\x00b.jpg",
    "..\\..\\windows\\system32",
    "C:\\Windows\\win.ini",
    "frame.jpg/..",
    "x" * 256,
    ".hidden",
    "name with space.jpg",
]


def test_the_plan_layout(storage_root):
    assert build_path(Category.UPLOADS, REQUEST_ID, "original.mp4", on_date=DAY) == (
        storage_root / "uploads/2026-03-14" / str(REQUEST_ID) / "original.mp4"
    )
    assert build_path(Category.FRAMES, REQUEST_ID, frame_name(1), on_date=DAY).name == (
        "frame_001.jpg"
    )
    assert build_path("contact-sheets", REQUEST_ID, "contact_sheet.jpg", on_date=DAY) == (
        storage_root / "contact-sheets/2026-03-14" / str(REQUEST_ID) / "contact_sheet.jpg"
    )
    assert build_path(Category.TEMP, REQUEST_ID, "x.part") == (
        storage_root / "temp" / str(REQUEST_ID) / "x.part"
    )


def test_the_date_of_an_aware_datetime_is_taken_in_utc(storage_root):
    # 23:30 at UTC-4 is 03:30 UTC the next day.
    aware = timezone.make_aware(datetime(2026, 3, 14, 23, 30), timezone.get_fixed_timezone(-240))
    path = build_path(Category.OUTPUTS, REQUEST_ID, "result.json", on_date=aware)
    assert "outputs/2026-03-15/" in path.as_posix()


def test_extension_comes_from_the_detected_type():
    assert original_upload_name("video/mp4") == "original.mp4"
    assert original_upload_name("image/jpeg; charset=binary") == "original.jpg"
    assert original_upload_name("application/x-evil") == "original.bin"
    assert original_upload_name(None) == "original.bin"
    assert extension_for_mime("AUDIO/MPEG") == "mp3"


@pytest.mark.parametrize("name", TRAVERSAL_NAMES)
def test_unsafe_names_are_refused(storage_root, name):
    with pytest.raises(UnsafePathError):
        build_path(Category.UPLOADS, REQUEST_ID, name, on_date=DAY)


@pytest.mark.parametrize(
    "request_id",
    [
        "../../etc",
        "%2e%2e",
        "",
        "0b7c3a52-8d0e-4a4b-9a57-0b0f3c1d2e3f/..",
        "{0b7c3a52-8d0e-4a4b-9a57-0b0f3c1d2e3f}",
        "0b7c3a528d0e4a4b9a570b0f3c1d2e3f",
        "\x00",
        42,
    ],
)
def test_request_ids_must_be_canonical_uuids(storage_root, request_id):
    with pytest.raises(UnsafePathError):
        build_path(Category.UPLOADS, request_id, "original.mp4")


def test_canonical_request_id_accepts_uuid_and_its_string():
    assert canonical_request_id(REQUEST_ID) == str(REQUEST_ID)
    assert canonical_request_id(str(REQUEST_ID).upper()) == str(REQUEST_ID)


@pytest.mark.parametrize(
    "relative",
    [
        "../../etc/passwd",
        "uploads/../../etc/passwd",
        "uploads/%2e%2e/%2e%2e/etc/passwd",
        "/etc/passwd",
        "C:/Windows/win.ini",
        "uploads\\..\\..\\etc\\passwd",
        "uploads/2026-03-14/x\x00/original.mp4",
        "etc/passwd",
        "uploads/" + "a" * 300,
        "",
    ],
)
def test_stored_relative_paths_are_checked_too(storage_root, relative):
    with pytest.raises(UnsafePathError):
        resolve_relative(relative)


def test_absolute_storage_paths_outside_the_root_are_refused(storage_root):
    with pytest.raises(UnsafePathError):
        path_of_record(None, "/etc/passwd")
    with pytest.raises(UnsafePathError):
        path_of_record(None, str(storage_root / "uploads/../../x"))


def test_symlink_escape_is_refused_and_nothing_is_written_outside(storage_root, outside):
    day_folder = storage_root / "uploads" / DAY.isoformat()
    day_folder.parent.mkdir(parents=True)
    day_folder.symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="outside"):
        build_path(Category.UPLOADS, REQUEST_ID, "original.mp4", on_date=DAY)
    with pytest.raises(UnsafePathError):
        store_file(
            b"x", category=Category.UPLOADS, request_id=REQUEST_ID, name="original.mp4", on_date=DAY
        )
    with pytest.raises(UnsafePathError):
        resolve_relative(f"uploads/{DAY.isoformat()}/{REQUEST_ID}/original.mp4")
    assert list(outside.iterdir()) == []


def test_a_file_symlink_leading_outside_is_refused(storage_root, outside):
    folder = storage_root / "frames" / DAY.isoformat() / str(REQUEST_ID)
    folder.mkdir(parents=True)
    (outside / "secret").write_text("secret")
    (folder / "frame_001.jpg").symlink_to(outside / "secret")
    with pytest.raises(UnsafePathError):
        resolve_relative(f"frames/{DAY.isoformat()}/{REQUEST_ID}/frame_001.jpg")
    assert (outside / "secret").read_text() == "secret"


def test_a_symlink_inside_the_root_is_handled_as_the_link(storage_root):
    folder = storage_root / "frames" / DAY.isoformat() / str(REQUEST_ID)
    folder.mkdir(parents=True)
    (folder / "frame_002.jpg").write_bytes(b"2")
    (folder / "frame_001.jpg").symlink_to(folder / "frame_002.jpg")
    assert file_inside_root(folder / "frame_001.jpg") == folder / "frame_001.jpg"


def test_a_symlinked_root_is_followed_once(tmp_path, settings):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    settings.STORAGE_ROOT = tmp_path / "link"
    stored = store_file(
        b"ok", category=Category.OUTPUTS, request_id=REQUEST_ID, name="result.json", on_date=DAY
    )
    assert stored.path.is_relative_to(real)
    assert stored.relative_path == f"outputs/{DAY.isoformat()}/{REQUEST_ID}/result.json"


def test_relative_path_round_trip_survives_a_moved_root(storage_root, tmp_path, settings):
    stored = store_file(
        b"{}", category=Category.OUTPUTS, request_id=REQUEST_ID, name="result.json", on_date=DAY
    )
    moved = tmp_path / "moved"
    os.rename(storage_root, moved)
    settings.STORAGE_ROOT = moved
    # The absolute path recorded at write time is gone; the relative one still works.
    assert not stored.path.exists()
    assert path_of_record(stored.relative_path, str(stored.path)).read_bytes() == b"{}"
    assert relative_to_root(moved / stored.relative_path) == stored.relative_path


def test_folders_are_755_and_files_644_whatever_the_umask(storage_root):
    previous = os.umask(0o077)
    try:
        stored = store_file(
            b"data",
            category=Category.FRAMES,
            request_id=REQUEST_ID,
            name=frame_name(3),
            on_date=DAY,
        )
    finally:
        os.umask(previous)
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o644
    folder = stored.path.parent
    while folder != storage_root.parent:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755, folder
        folder = folder.parent


def test_names_we_use_are_valid():
    for name in (
        "original.mp4",
        "metadata.json",
        "frame_001.jpg",
        "contact_sheet.jpg",
        "result.json",
        "summary.txt",
    ):
        assert validate_name(name) == name
    with pytest.raises(UnsafePathError):
        frame_name(0)


def test_retention_comes_from_settings(settings):
    settings.STORAGE_RETENTION_DAYS = {
        **settings.STORAGE_RETENTION_DAYS,
        "uploads": 3,
        "outputs": 0,
    }
    settings.STORAGE_RETENTION_TEMP_HOURS = 5
    assert retention_for(Category.UPLOADS) == timedelta(days=3)
    assert retention_for(Category.OUTPUTS) is None
    assert retention_for(Category.TEMP) == timedelta(hours=5)
