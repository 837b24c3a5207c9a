"""Disk thresholds, the 507 refusal, readiness and the Prometheus gauges."""

from __future__ import annotations

import json

import pytest
from prometheus_client import REGISTRY

from storage_app.disk import (
    DiskLevel,
    DiskUsage,
    InsufficientStorageError,
    ensure_space_for_write,
    level_for,
    measure_disk,
    readiness_check,
    refresh_category_gauges,
)
from storage_app.layout import Category
from storage_app.records import record_media_file
from storage_app.writer import store_file
from tests.conftest import SCRAPE


def test_levels_follow_the_settings(settings):
    settings.STORAGE_DISK_WARNING_PERCENT = 80
    settings.STORAGE_DISK_CRITICAL_PERCENT = 90
    assert level_for(79.9) is DiskLevel.OK
    assert level_for(80) is DiskLevel.WARNING
    assert level_for(90) is DiskLevel.CRITICAL


def test_used_percent_counts_as_df_does():
    usage = DiskUsage(total_bytes=1000, used_bytes=450, free_bytes=450)  # 100 reserved
    assert usage.used_percent == 50.0
    assert usage.used_percent_after(90) == 60.0


def test_ensure_space_passes_below_critical(storage_root, settings):
    settings.STORAGE_DISK_CRITICAL_PERCENT = 100
    usage = ensure_space_for_write(1024)
    assert usage.free_bytes > 0


def test_ensure_space_refuses_at_critical_with_a_507(storage_root, settings):
    settings.STORAGE_DISK_WARNING_PERCENT = 1
    settings.STORAGE_DISK_CRITICAL_PERCENT = 1
    with pytest.raises(InsufficientStorageError) as refused:
        ensure_space_for_write()
    error = refused.value
    assert error.http_status == 507
    assert "refused until space is freed" in error.message
    response = error.as_response()
    assert response.status_code == 507
    assert json.loads(response.content) == {
        "error": {"code": "insufficient_storage", "message": error.message}
    }


def test_a_write_that_would_cross_critical_is_refused(storage_root, settings):
    settings.STORAGE_DISK_CRITICAL_PERCENT = 100
    usage = measure_disk()
    with pytest.raises(InsufficientStorageError):
        ensure_space_for_write(usage.free_bytes + 1)


@pytest.mark.django_db
def test_readiness_reports_levels(storage_root, settings):
    settings.STORAGE_DISK_WARNING_PERCENT = 100
    settings.STORAGE_DISK_CRITICAL_PERCENT = 100
    assert readiness_check()["status"] == "ok"
    settings.STORAGE_DISK_WARNING_PERCENT = 1
    assert readiness_check()["status"] == "warning"
    settings.STORAGE_DISK_CRITICAL_PERCENT = 1
    result = readiness_check()
    assert result["status"] == "critical" and result["level"] == "critical"


@pytest.mark.django_db
def test_health_readiness_uses_the_storage_rule(client, storage_root, settings):
    settings.STORAGE_DISK_WARNING_PERCENT = 1
    settings.STORAGE_DISK_CRITICAL_PERCENT = 1
    response = client.get("/health/ready")
    disk = response.json()["components"]["disk"]
    assert disk["status"] == "critical" and disk["level"] == "critical"
    # New files are refused with 507, but reads go on: degraded, still ready.
    assert response.json()["level"] == "degraded"
    assert response.status_code == 200


@pytest.mark.django_db
def test_a_storage_root_that_cannot_be_measured_takes_the_instance_offline(
    client, settings, tmp_path
):
    settings.STORAGE_ROOT = tmp_path / "not-mounted"
    response = client.get("/health/ready")
    assert response.json()["components"]["disk"]["status"] == "error"
    assert response.status_code == 503


def test_gauges_are_set(storage_root):
    usage = measure_disk()
    assert REGISTRY.get_sample_value("media_analysis_storage_disk_free_bytes") == usage.free_bytes
    assert REGISTRY.get_sample_value("media_analysis_storage_disk_used_bytes") == usage.used_bytes
    assert REGISTRY.get_sample_value("media_analysis_storage_disk_used_percent") == round(
        usage.used_percent, 2
    )


@pytest.mark.django_db
def test_category_gauges_sum_live_rows(storage_root, make_request):
    request = make_request()
    for index, size in ((1, 10), (2, 20)):
        stored = store_file(
            b"x" * size,
            category=Category.FRAMES,
            request_id=request.id,
            name=f"frame_00{index}.jpg",
        )
        record_media_file(stored, mime_type="image/jpeg")
    totals = refresh_category_gauges()
    assert totals["frames"] == 30 and totals["uploads"] == 0
    assert (
        REGISTRY.get_sample_value("media_analysis_storage_category_bytes", {"category": "frames"})
        == 30
    )


def test_gauges_appear_on_the_metrics_page(client, storage_root):
    measure_disk()
    body = client.get("/metrics", **SCRAPE).content.decode()
    assert "media_analysis_storage_disk_used_percent" in body
