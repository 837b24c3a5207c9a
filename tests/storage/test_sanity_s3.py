"""check_storage on the object store (a real SeaweedFS): a missing object, an
orphan object (by prefix listing), a checksum and a size mismatch, a row naming
another prefix; a row still on local disk (half-way through a migration) is
checked on disk."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from storage_app.backends import get_backend
from storage_app.layout import Category
from storage_app.models import MediaFile
from storage_app.records import record_media_file
from storage_app.sanity import run_sanity_check
from storage_app.writer import store_file
from tests.storage.s3rows import put_indexed, put_object

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(storage_root, object_store):
    return get_backend()


@pytest.fixture
def planted(store, object_store, make_request, storage_root):
    request = make_request()
    good, _ = put_indexed(store, Category.UPLOADS, request, 0, b"good video")
    sheet, _ = put_indexed(store, Category.CONTACT_SHEETS, request, 0, b"good sheet")
    missing, _ = put_indexed(store, Category.FRAMES, request, 0, b"frame one")
    store.delete(missing)
    corrupted, _ = put_indexed(
        store, Category.FRAMES, request, 0, b"frame two", name="frame_002.jpg"
    )
    store.save_stream(corrupted, b"frame 2wo")  # same size, other bytes
    grown, _ = put_indexed(store, Category.OUTPUTS, request, 0, b"{}")
    store.save_stream(grown, b'{"tampered": true}')
    orphan = put_object(store, Category.FRAMES, request, 3, b"nobody", name="frame_003.jpg")
    foreign, row = put_indexed(
        store, Category.UPLOADS, make_request(), 0, b"x", name="metadata.json"
    )
    MediaFile.objects.filter(pk=row.pk).update(
        storage_path=f"s3://{object_store.bucket}/elsewhere/{foreign}"
    )
    # Not migrated yet: a row whose file is still on the local disk.
    local = store_file(b"local", category=Category.OUTPUTS, request_id=request.id, name="a.txt")
    record_media_file(local, mime_type="text/plain")
    local.path.write_bytes(b"LOCAL")
    return {
        "good": good,
        "sheet": sheet,
        "missing": missing,
        "corrupted": corrupted,
        "grown": grown,
        "orphan": orphan,
        "foreign": foreign,
        "local": local.relative_path,
    }


def paths(problems) -> set[str]:
    return {item["relative_path"] for item in problems.items}


def test_every_kind_of_problem_is_found_with_its_key(planted):
    report = run_sanity_check(grace=timedelta(0))

    assert paths(report.missing_files) == {planted["missing"]}
    assert paths(report.checksum_mismatches) == {
        planted["corrupted"],
        planted["grown"],
        planted["local"],
    }
    assert paths(report.size_mismatches) == {planted["grown"]}
    assert paths(report.unsafe_rows) == {planted["foreign"]}
    assert "elsewhere" in report.unsafe_rows.items[0]["error"]
    # The foreign row still indexes its key (reported once, as unsafe, not as an orphan).
    assert paths(report.orphan_files) == {planted["orphan"]}
    assert report.orphan_files.items[0]["size_bytes"] == len(b"nobody")
    assert report.rows_checked == 7
    assert report.files_checked == 6  # every object listed: not the missing one, not the local file
    assert report.problem_count == 7


def test_without_checksums_only_sizes_and_presence_are_checked(planted):
    report = run_sanity_check(grace=timedelta(0), verify_checksums=False)
    assert report.checksum_mismatches.count == 0
    assert paths(report.size_mismatches) == {planted["grown"]}
    assert paths(report.missing_files) == {planted["missing"]}


def test_a_young_orphan_is_not_reported(planted):
    report = run_sanity_check()  # default grace: objects written a moment ago are young
    assert report.orphan_files.count == 0


def test_the_command_reports_the_problems(planted):
    out = StringIO()
    with pytest.raises(CommandError, match="7 storage problem"):
        call_command("check_storage", "--grace-minutes", "0", stdout=out)
    assert f"MISSING (row without its file): {planted['missing']}" in out.getvalue()
    assert f"ORPHAN (file without a row): {planted['orphan']}" in out.getvalue()
