"""Retention cleanup on the object store (a real SeaweedFS): expired rows' objects
are deleted through the backend, the dated categories are swept by key prefix,
temp/ stays on local disk and is swept as ever, nothing goes to a local root."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from storage_app.backends import get_backend
from storage_app.cleanup import run_cleanup
from storage_app.layout import Category
from storage_app.models import ContactSheet, MediaFile
from storage_app.tasks import SYSTEM_ACTOR
from storage_app.writer import store_file
from tests.storage.s3rows import put_indexed, put_object
from tests.storage.test_cleanup import age_tree

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(storage_root, object_store):
    """The s3 backend; STORAGE_ROOT is the worker's local disk (temp/ only)."""
    return get_backend()


@pytest.fixture
def scene(store, make_request):
    request = make_request()
    scene = {
        "uploads_old": put_indexed(store, Category.UPLOADS, request, 10, b"u" * 100),
        "uploads_new": put_indexed(store, Category.UPLOADS, request, 1),
        "frames_old": put_indexed(store, Category.FRAMES, request, 40, b"f" * 200),
        "frames_new": put_indexed(store, Category.FRAMES, request, 5),
        "sheet_old": put_indexed(store, Category.CONTACT_SHEETS, request, 40, b"s" * 300),
        "sheet_new": put_indexed(store, Category.CONTACT_SHEETS, request, 2),
        "outputs_old": put_indexed(store, Category.OUTPUTS, request, 400),
    }
    temp_old = store_file(b"t" * 50, category=Category.TEMP, request_id=request.id, name="a.part")
    age_tree(temp_old.path.parent, hours=30)
    scene["temp_old"] = temp_old
    return scene


def local_files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_expired_objects_go_rows_are_marked_and_temp_is_swept_locally(scene, store, storage_root):
    report = run_cleanup(actor=SYSTEM_ACTOR)

    for name in ("uploads_old", "frames_old", "sheet_old"):
        assert not store.exists(scene[name][0]), name
    for name in ("uploads_new", "frames_new", "sheet_new", "outputs_old"):
        assert store.exists(scene[name][0]), name
    assert not scene["temp_old"].path.parent.exists()
    assert MediaFile.objects.get(pk=scene["uploads_old"][1].pk).deleted_at == report.now
    assert MediaFile.objects.get(pk=scene["uploads_new"][1].pk).deleted_at is None
    sheet = ContactSheet.objects.get(pk=scene["sheet_old"][1].pk)
    assert sheet.metadata["deleted_by"] == SYSTEM_ACTOR

    counts = report.categories
    assert (counts["uploads"].files_deleted, counts["uploads"].bytes_freed) == (1, 100)
    assert (counts["frames"].files_deleted, counts["frames"].bytes_freed) == (1, 200)
    assert (counts["contact-sheets"].files_deleted, counts["contact-sheets"].bytes_freed) == (
        1,
        300,
    )
    assert (counts["temp"].files_deleted, counts["temp"].bytes_freed) == (1, 50)
    assert report.total.rows_marked == 3 and report.total.errors == 0
    assert local_files(storage_root) == []  # nothing of the store was ever local

    again = run_cleanup(actor=SYSTEM_ACTOR)
    assert again.total.files_deleted == again.total.rows_marked == 0


def test_a_dry_run_deletes_nothing_and_counts_the_same(scene, store):
    keys = sorted(info.key for info in store.list(""))
    dry = run_cleanup(actor=SYSTEM_ACTOR, dry_run=True)
    assert sorted(info.key for info in store.list("")) == keys
    assert MediaFile.objects.filter(deleted_at__isnull=False).count() == 0
    real = run_cleanup(actor=SYSTEM_ACTOR)
    assert dry.total.files_deleted == real.total.files_deleted == 4
    assert dry.total.bytes_freed == real.total.bytes_freed == 650


def test_a_row_whose_object_is_gone_is_marked_all_the_same(store, make_request):
    key, row = put_indexed(store, Category.UPLOADS, make_request(), 9)
    store.delete(key)
    report = run_cleanup(actor=SYSTEM_ACTOR)
    assert report.categories["uploads"].files_missing == 1
    assert MediaFile.objects.get(pk=row.pk).deleted_at is not None


def test_a_row_naming_another_bucket_or_prefix_is_left_alone(store, object_store, make_request):
    key, row = put_indexed(store, Category.UPLOADS, make_request(), 9)
    foreign = f"s3://{object_store.bucket}/someone-else/{key}"
    MediaFile.objects.filter(pk=row.pk).update(storage_path=foreign)
    report = run_cleanup(actor=SYSTEM_ACTOR)
    assert store.exists(key)
    assert MediaFile.objects.get(pk=row.pk).deleted_at is None
    assert report.total.errors == 1


def test_orphan_objects_past_retention_go_once_settled(store, make_request):
    request = make_request()
    orphan = put_object(store, Category.FRAMES, request, 45, b"orphan", name="frame_009.jpg")
    young = put_object(store, Category.FRAMES, request, 2, b"young", name="frame_002.jpg")
    live_key, _ = put_indexed(store, Category.FRAMES, request, 45, name="frame_003.jpg")
    MediaFile.objects.filter(relative_path=live_key).update(
        expires_at=timezone.now() + timedelta(days=9)  # kept longer than the folder's date says
    )
    odd = "frames/not-a-date/x.jpg"
    store.save_stream(odd, b"odd")

    # Written a moment ago: within the grace, even in a folder past retention.
    report = run_cleanup(actor=SYSTEM_ACTOR, categories=["frames"])
    assert store.exists(orphan) and report.categories["frames"].orphans_deleted == 0

    later = timezone.now() + timedelta(days=2)
    dry = run_cleanup(actor=SYSTEM_ACTOR, categories=["frames"], now=later, dry_run=True)
    assert store.exists(orphan) and dry.categories["frames"].orphans_deleted == 1
    report = run_cleanup(actor=SYSTEM_ACTOR, categories=["frames"], now=later)
    assert not store.exists(orphan)
    assert store.exists(young) and store.exists(live_key) and store.exists(odd)
    assert report.categories["frames"].orphans_deleted == 1
    assert report.categories["frames"].bytes_freed == len(b"orphan")


def test_the_command_prints_the_counts(scene, store):
    out = StringIO()
    call_command("cleanup_storage", "--category", "uploads", stdout=out)
    assert "uploads:" in out.getvalue() and "100 bytes" in out.getvalue()
    assert not store.exists(scene["uploads_old"][0])
