"""Disk and usage gauges on the object store: category bytes from the rows, the
disk rules on the local temp disk only."""

from __future__ import annotations

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from storage_app.backends import get_backend
from storage_app.disk import (
    InsufficientStorageError,
    ensure_space_for_write,
    readiness_check,
    refresh_category_gauges,
)
from storage_app.layout import Category
from storage_app.models import MediaFile
from tests.storage.s3rows import put_indexed

pytestmark = pytest.mark.django_db


def test_category_bytes_come_from_the_rows_of_objects(object_store, storage_root, make_request):
    store, request = get_backend(), make_request()
    put_indexed(store, Category.FRAMES, request, 0, b"x" * 10, name="frame_001.jpg")
    put_indexed(store, Category.FRAMES, request, 0, b"x" * 20, name="frame_002.jpg")
    put_indexed(store, Category.CONTACT_SHEETS, request, 0, b"s" * 7)
    _, row = put_indexed(store, Category.UPLOADS, request, 0, b"u" * 5)
    MediaFile.objects.filter(pk=row.pk).update(deleted_at=timezone.now())

    totals = refresh_category_gauges()
    assert totals == {"uploads": 0, "frames": 30, "contact-sheets": 7, "outputs": 0}
    sample = REGISTRY.get_sample_value(
        "media_analysis_storage_category_bytes", {"category": "contact-sheets"}
    )
    assert sample == 7


def test_readiness_measures_the_local_temp_disk(object_store, storage_root, settings):
    settings.STORAGE_DISK_WARNING_PERCENT = 100
    settings.STORAGE_DISK_CRITICAL_PERCENT = 100
    result = readiness_check()
    assert result["status"] == "ok"
    assert (result["backend"], result["scope"]) == ("s3", "local temp disk")
    # The temp disk's rule still holds: a full local disk refuses new work (507).
    settings.STORAGE_DISK_CRITICAL_PERCENT = 1
    with pytest.raises(InsufficientStorageError):
        ensure_space_for_write(0)


def test_a_missing_local_temp_root_is_made_not_an_error(object_store, settings, tmp_path):
    settings.STORAGE_ROOT = tmp_path / "scratch"
    assert readiness_check()["status"] in {"ok", "warning", "critical"}
    assert (tmp_path / "scratch").is_dir()


def test_on_the_filesystem_the_scope_is_the_storage_root(storage_root):
    assert readiness_check()["scope"] == "storage root"
