"""What operators see of the backups: /metrics, the staff dashboard, readiness,
and the audit log."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditLogEntry
from media_analysis import health
from storage_app.backup import status
from storage_app.backup.create import create_backup
from storage_app.backup.pgtools import ToolError
from storage_app.backup.record import BackupRun
from tests.admin.conftest import staff, staff_client  # noqa: F401 (fixtures)
from tests.conftest import SCRAPE

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_caches(settings):
    settings.ADMIN_DASHBOARD_CACHE_SECONDS = 0
    status.clear_caches()
    health.clear_readiness_cache()
    yield
    status.clear_caches()
    health.clear_readiness_cache()


@pytest.fixture
def small_storage(storage_root) -> Path:
    folder = storage_root / "outputs" / "2026-01-01" / "00000000-0000-0000-0000-000000000001"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text('{"answer": 42}')
    return storage_root


def metric(page: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", page, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


def failed_backup(settings, tmp_path) -> None:
    old = tmp_path / "old-client"
    old.mkdir()
    for tool in ("pg_dump", "pg_restore", "psql"):
        (old / tool).write_text(f"#!/bin/sh\necho '{tool} (PostgreSQL) 9.6'\n")
        (old / tool).chmod(0o755)
    settings.BACKUP_PG_BIN_DIR = str(old)
    with pytest.raises(ToolError):
        create_backup(output=tmp_path / "never")
    settings.BACKUP_PG_BIN_DIR = None


def test_metrics_give_the_last_success_its_duration_and_size_and_the_failures(
    client, settings, small_storage, tmp_path
):
    page = client.get("/metrics", **SCRAPE).content.decode()
    assert metric(page, "media_analysis_backup_failures_total") == 0
    assert metric(page, "media_analysis_backup_stale") == 1
    assert "media_analysis_backup_last_success_timestamp_seconds" not in page

    failed_backup(settings, tmp_path)
    result = create_backup(output=tmp_path / "good")
    status.clear_caches()
    page = client.get("/metrics", **SCRAPE).content.decode()

    run = BackupRun.objects.get(kind="backup", status="succeeded")
    assert metric(page, "media_analysis_backup_failures_total") == 1
    assert metric(page, "media_analysis_backup_stale") == 0
    assert metric(page, "media_analysis_backup_last_success_timestamp_seconds") == pytest.approx(
        run.finished_at.timestamp()
    )
    assert 0 < metric(page, "media_analysis_backup_last_duration_seconds") < 60
    assert metric(page, "media_analysis_backup_last_size_bytes") == result.new_bytes
    assert metric(page, "media_analysis_backup_last_total_bytes") == run.total_bytes > 14
    assert metric(page, "media_analysis_backup_last_success_age_seconds") < 60


def test_readiness_says_stale_without_a_recent_good_set_and_stays_up(
    client, settings, small_storage, tmp_path
):
    settings.STORAGE_DISK_WARNING_PERCENT = 100
    settings.STORAGE_DISK_CRITICAL_PERCENT = 100
    unscheduled = client.get("/health/ready").json()
    assert "backup" not in unscheduled["components"]  # BACKUP_DIR unset: nothing promised

    settings.BACKUP_DIR = str(tmp_path / "backups")
    body = client.get("/health/ready").json()
    assert body["components"]["backup"]["status"] == "stale"
    assert body["components"]["backup"]["detail"] == "no backup has succeeded yet"
    assert body["level"] == unscheduled["level"]  # reported, never counted

    create_backup()
    status.clear_caches()
    health.clear_readiness_cache()
    body = client.get("/health/ready").json()
    assert body["components"]["backup"]["status"] == "ok"
    assert body["components"]["backup"]["age_hours"] < 0.1

    # Two nightly intervals without a good set.
    BackupRun.objects.filter(kind="backup").update(finished_at=timezone.now() - timedelta(hours=49))
    status.clear_caches()
    health.clear_readiness_cache()
    response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200
    assert body["components"]["backup"]["status"] == "stale"
    assert "49.0 h old" in body["components"]["backup"]["detail"]
    assert body["level"] == unscheduled["level"]


def test_the_dashboard_shows_the_age_of_the_last_good_backup(
    staff_client,  # noqa: F811
    settings,
    small_storage,
    tmp_path,
):
    url = reverse("admin-dashboard")
    body = staff_client.get(url).content.decode()
    assert "Last good backup: <strong" in body and "none yet" in body

    create_backup(output=tmp_path / "set")
    BackupRun.objects.filter(kind="backup").update(
        finished_at=timezone.now() - timedelta(hours=5, minutes=12)
    )
    body = staff_client.get(url).content.decode()
    assert re.search(r'class="backup-age">5 h 1[12] min ago</strong> \(set set\)', body), body
    assert "backup-stale" not in body

    BackupRun.objects.filter(kind="backup").update(finished_at=timezone.now() - timedelta(days=3))
    body = staff_client.get(url).content.decode()
    assert 'class="backup-age backup-stale">3 d 0 h ago' in body


def test_backups_verifications_and_restores_are_in_the_audit_log_with_system_actors(
    settings, small_storage, tmp_path
):
    create_backup(output=tmp_path / "set")
    entries = AuditLogEntry.objects.filter(table_name="backup_runs").order_by("created_at")
    assert [(e.action, e.performed_by) for e in entries] == [
        ("INSERT", "system:backup"),
        ("UPDATE", "system:backup"),
    ]
    assert entries[1].new_values["status"] == "succeeded"
    assert entries[1].old_values["status"] == "running"

    failed_backup(settings, tmp_path)
    failure = AuditLogEntry.objects.filter(table_name="backup_runs").order_by("-created_at")[0]
    assert failure.performed_by == "system:backup"
    assert failure.new_values["status"] == "failed"
    assert "too old" in failure.new_values["error"]
