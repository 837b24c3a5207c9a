"""check_storage finds what the test plants: an orphan file, a missing file, a
corrupted file (checksum and size), with full relative paths."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from storage_app.layout import Category
from storage_app.locking import StorageBusyError, storage_lock
from storage_app.records import record_contact_sheet, record_media_file
from storage_app.sanity import run_sanity_check
from storage_app.writer import store_file

pytestmark = pytest.mark.django_db


def age(path, hours: float = 2) -> None:
    stamp = time.time() - hours * 3600
    os.utime(path, (stamp, stamp))


@pytest.fixture
def planted(storage_root, make_request):
    request = make_request()

    def indexed(category, name, content):
        stored = store_file(content, category=category, request_id=request.id, name=name)
        if category is Category.CONTACT_SHEETS:
            record_contact_sheet(stored, frames_count=6)
        else:
            record_media_file(stored, mime_type="application/octet-stream")
        return stored

    good = indexed(Category.UPLOADS, "original.mp4", b"good video")
    sheet = indexed(Category.CONTACT_SHEETS, "contact_sheet.jpg", b"good sheet")
    missing = indexed(Category.FRAMES, "frame_001.jpg", b"frame one")
    missing.path.unlink()
    corrupted = indexed(Category.FRAMES, "frame_002.jpg", b"frame two")
    corrupted.path.write_bytes(b"frame 2wo")  # same size, other bytes
    grown = indexed(Category.OUTPUTS, "result.json", b"{}")
    grown.path.write_bytes(b'{"tampered": true}')
    orphan = store_file(
        b"nobody knows me", category=Category.FRAMES, request_id=request.id, name="frame_003.jpg"
    )
    age(orphan.path)
    young_orphan = store_file(
        b"row coming", category=Category.FRAMES, request_id=request.id, name="frame_004.jpg"
    )
    partial = good.path.parent / ".tmp-0011223344556677.part"
    partial.write_bytes(b"in flight")
    age(partial)
    store_file(b"scratch", category=Category.TEMP, request_id=request.id, name="scratch.bin")
    return {
        "good": good,
        "sheet": sheet,
        "missing": missing,
        "corrupted": corrupted,
        "grown": grown,
        "orphan": orphan,
        "young_orphan": young_orphan,
    }


def paths(problems) -> list[str]:
    return [item["relative_path"] for item in problems.items]


def test_the_planted_problems_are_found_and_nothing_else(planted):
    report = run_sanity_check()
    assert paths(report.orphan_files) == [planted["orphan"].relative_path]
    assert paths(report.missing_files) == [planted["missing"].relative_path]
    assert sorted(paths(report.checksum_mismatches)) == sorted(
        [planted["corrupted"].relative_path, planted["grown"].relative_path]
    )
    assert paths(report.size_mismatches) == [planted["grown"].relative_path]
    assert report.unsafe_rows.count == 0
    assert report.problem_count == 5
    mismatch = next(
        i
        for i in report.checksum_mismatches.items
        if i["relative_path"] == planted["corrupted"].relative_path
    )
    assert mismatch["expected"] == planted["corrupted"].sha256
    assert mismatch["actual"] != planted["corrupted"].sha256
    assert report.rows_checked == 5
    assert planted["orphan"].relative_path.startswith("frames/")


def test_without_checksums_only_sizes_are_compared(planted):
    report = run_sanity_check(verify_checksums=False)
    assert report.checksum_mismatches.count == 0
    assert paths(report.size_mismatches) == [planted["grown"].relative_path]


def test_a_zero_grace_reports_the_young_orphan_too(planted):
    report = run_sanity_check(grace=timedelta(0))
    assert sorted(paths(report.orphan_files)) == sorted(
        [planted["orphan"].relative_path, planted["young_orphan"].relative_path]
    )


def test_a_clean_storage_passes(storage_root, make_request):
    stored = store_file(
        b"x", category=Category.UPLOADS, request_id=make_request().id, name="original.bin"
    )
    record_media_file(stored, mime_type=None)
    report = run_sanity_check()
    assert report.problem_count == 0
    assert report.rows_checked == 1 and report.files_checked == 1
    out = StringIO()
    call_command("check_storage", stdout=out)
    assert "0 orphan_files" in out.getvalue()


def test_the_command_lists_full_relative_paths_and_fails(planted):
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("check_storage", stdout=out)
    assert failed.value.returncode == 1
    text = out.getvalue()
    assert f"ORPHAN (file without a row): {planted['orphan'].relative_path}" in text
    assert f"MISSING (row without its file): {planted['missing'].relative_path}" in text
    assert f"CHECKSUM MISMATCH: {planted['corrupted'].relative_path}" in text


def test_a_symlink_planted_in_the_tree_is_reported_not_followed(
    storage_root, make_request, outside
):
    stored = store_file(
        b"x", category=Category.UPLOADS, request_id=make_request().id, name="original.bin"
    )
    record_media_file(stored, mime_type=None)
    secret = outside / "secret"
    secret.write_text("secret")
    link = stored.path.parent / "metadata.json"
    link.symlink_to(secret)
    os.utime(link, (time.time() - 7200,) * 2, follow_symlinks=False)
    report = run_sanity_check()
    assert report.orphan_files.items == [
        {
            "relative_path": f"{stored.relative_path.rsplit('/', 1)[0]}/metadata.json",
            "size_bytes": len(str(secret)),
            "symlink": True,
        }
    ]


def test_the_check_does_not_run_during_a_cleanup(storage_root):
    with storage_lock("cleanup"), pytest.raises(StorageBusyError):
        run_sanity_check()
