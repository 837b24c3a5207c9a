"""The beat tasks are thin wrappers around the same functions as the commands, and
the schedule is configured."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.utils import timezone

from storage_app import tasks
from storage_app.layout import Category
from storage_app.locking import storage_lock
from storage_app.models import MediaFile
from storage_app.records import record_media_file
from storage_app.writer import store_file
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


def test_the_system_actor_is_named():
    assert tasks.SYSTEM_ACTOR == "system:cleanup"


def test_the_cleanup_task_runs_the_cleanup(storage_root, make_request):
    stored = store_file(
        b"old", category=Category.UPLOADS, request_id=make_request().id, name="original.bin"
    )
    row = record_media_file(stored, mime_type=None)
    MediaFile.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    result = tasks.cleanup_storage.apply().get()
    assert result["actor"] == "system:cleanup"
    assert result["categories"]["uploads"]["files_deleted"] == 1
    assert not stored.path.exists()


def test_a_busy_lock_makes_the_tasks_skip(storage_root):
    with storage_lock("cleanup"):
        assert "skipped" in tasks.cleanup_storage.apply().get()
        assert "skipped" in tasks.check_storage.apply().get()


def test_the_check_task_returns_the_report(storage_root):
    (storage_root / "outputs").mkdir()
    result = tasks.check_storage.apply().get()
    assert result["problem_count"] == 0


def test_beat_runs_cleanup_daily_and_the_check_weekly():
    schedule = settings.CELERY_BEAT_SCHEDULE
    cleanup = schedule["storage-cleanup"]
    check = schedule["storage-check"]
    assert cleanup["task"] == tasks.cleanup_storage.name
    assert check["task"] == tasks.check_storage.name
    assert cleanup["schedule"] == crontab(hour=3, minute=30)
    assert check["schedule"] == crontab(day_of_week=0, hour=4, minute=30)


def test_the_cleanup_time_comes_from_the_environment():
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "s = settings.CELERY_BEAT_SCHEDULE['storage-cleanup']['schedule']; "
        "print(sorted(s.hour), sorted(s.minute))"
    )
    env = {"STORAGE_CLEANUP_HOUR": "5", "STORAGE_CLEANUP_MINUTE": "7"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "media_analysis.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "[5] [7]"
    bad = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "media_analysis.settings",
            "STORAGE_CLEANUP_HOUR": "25",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0 and "STORAGE_CLEANUP_HOUR" in bad.stderr
