"""``migrate_storage --to s3`` against a real SeaweedFS: copies every live row's
file from STORAGE_ROOT into the bucket under the same key, verifies it, switches
the rows, resumes after a kill, refuses without a target."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from storage_app.backends import get_backend
from storage_app.layout import Category
from storage_app.models import ContactSheet, MediaFile
from storage_app.records import record_contact_sheet, record_media_file
from storage_app.writer import store_file
from tests.conftest import ROOT, database_url, run_manage, wait_until


def local(request, category: Category, name: str, content: bytes, sheet: bool = False):
    stored = store_file(content, category=category, request_id=request.id, name=name)
    if sheet:
        return stored, record_contact_sheet(stored, frames_count=6)
    return stored, record_media_file(stored, mime_type="application/octet-stream")


@pytest.fixture
def store(storage_root, object_store):
    """The bucket as the target; STORAGE_ROOT (the filesystem store) the source."""
    return get_backend()


@pytest.fixture
def planted(store, make_request):
    request = make_request()
    planted = {
        "upload": local(request, Category.UPLOADS, "original.mp4", b"video" * 1000),
        "frame": local(request, Category.FRAMES, "frame_001.jpg", b"frame"),
        "sheet": local(request, Category.CONTACT_SHEETS, "contact_sheet.jpg", b"sheet", True),
        "output": local(request, Category.OUTPUTS, "result.json", b"{}"),
    }
    legacy = local(request, Category.OUTPUTS, "summary.txt", b"old row")
    MediaFile.objects.filter(pk=legacy[1].pk).update(relative_path=None)  # an early row
    planted["legacy"] = legacy
    gone = local(request, Category.UPLOADS, "metadata.json", b"expired")
    MediaFile.objects.filter(pk=gone[1].pk).update(deleted_at=timezone.now())
    planted["deleted"] = gone
    return planted


def row_of(stored, row):
    return type(row).objects.get(pk=row.pk)


def migrate(*args: str) -> str:
    out = StringIO()
    call_command("migrate_storage", "--to", "s3", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_every_live_row_is_copied_verified_and_switched(planted, store):
    text = migrate()

    for name in ("upload", "frame", "sheet", "output", "legacy"):
        stored, row = planted[name]
        fresh = row_of(stored, row)
        assert fresh.relative_path == stored.relative_path, name
        assert fresh.storage_path == store.uri_for(stored.relative_path), name
        assert store.sha256_of(stored.relative_path) == (stored.size_bytes, stored.sha256)
        assert stored.path.exists(), f"{name}: local files stay without --delete-local"
    deleted_stored, _ = planted["deleted"]
    assert not store.exists(deleted_stored.relative_path)
    assert row_of(*planted["deleted"]).storage_path == str(deleted_stored.path)
    assert "6 live rows" not in text and "5 live rows" in text
    assert "copied and switched 5" in text and "0 already in the bucket" in text

    again = migrate()  # nothing left to do
    assert "5 already in the bucket, copied and switched 0" in again


@pytest.mark.django_db
def test_a_dry_run_copies_and_switches_nothing(planted, store):
    text = migrate("--dry-run")
    assert "[dry run] 5 live rows" in text and "would copy 5" in text
    assert list(store.list("")) == []
    stored, row = planted["upload"]
    assert row_of(stored, row).storage_path == str(stored.path)


@pytest.mark.django_db
def test_a_file_that_does_not_match_its_row_stays_on_disk(planted, store):
    corrupted, corrupted_row = planted["frame"]
    corrupted.path.write_bytes(b"FRAME")  # same size, other bytes
    missing, _ = planted["output"]
    missing.path.unlink()
    out = StringIO()
    with pytest.raises(CommandError, match=r"2 row\(s\) were not moved") as raised:
        call_command("migrate_storage", "--to", "s3", stdout=out)
    assert raised.value.returncode == 1
    text = out.getvalue()
    assert f"PROBLEM: checksum or size differs from the row: {corrupted.relative_path}" in text
    assert f"PROBLEM: missing on disk: {missing.relative_path}" in text
    assert row_of(corrupted, corrupted_row).storage_path == str(corrupted.path)
    assert not store.exists(corrupted.relative_path)  # the bad copy is not left behind
    assert row_of(*planted["upload"]).storage_path.startswith("s3://")  # the rest moved


@pytest.mark.django_db
def test_read_back_and_delete_local_after_an_interrupted_run(planted, store):
    # A run killed after copying the upload but before switching its row...
    upload, _ = planted["upload"]
    store.save_stream(upload.relative_path, b"partial garbage")
    # ...and one killed after switching the frame's row, before deleting its file.
    frame, frame_row = planted["frame"]
    store.save_stream(frame.relative_path, frame.path)
    MediaFile.objects.filter(pk=frame_row.pk).update(
        storage_path=store.uri_for(frame.relative_path)
    )

    text = migrate("--delete-local", "--read-back", "--batch-size", "2")

    assert "1 already in the bucket, copied and switched 4" in text
    assert "5 local files deleted" in text
    assert store.sha256_of(upload.relative_path) == (upload.size_bytes, upload.sha256)
    for name in ("upload", "frame", "sheet", "output", "legacy"):
        stored, row = planted[name]
        assert not stored.path.exists(), name
        assert row_of(stored, row).storage_path.startswith("s3://"), name
    assert planted["deleted"][0].path.exists()  # not a live row: not the migration's


def test_without_a_configured_target_it_refuses_and_exits_2(storage_root):
    env = {"MEDIA_ANALYSIS_STORAGE_ROOT": str(storage_root)}
    result = run_manage("migrate_storage", "--to", "s3", env=env, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "migrate_storage refused: the target is not configured" in result.stderr
    assert "MEDIA_ANALYSIS_STORAGE_BACKEND=s3" in result.stderr


@pytest.mark.django_db
def test_a_bucket_it_cannot_list_is_refused(planted, object_store, settings):
    import dataclasses

    settings.OBJECT_STORE = dataclasses.replace(object_store, secret_key="not-the-secret")
    with pytest.raises(CommandError, match="cannot be listed") as raised:
        migrate()
    assert raised.value.returncode == 2
    stored, row = planted["upload"]
    assert row_of(stored, row).storage_path == str(stored.path)


# ------------------------------------------------------------- killed and restarted
def s3_env(seaweed, config, storage_root) -> dict:
    return {
        "MEDIA_ANALYSIS_STORAGE_ROOT": str(storage_root),
        "MEDIA_ANALYSIS_STORAGE_BACKEND": "s3",
        "AWS_STORAGE_BUCKET_NAME": config.bucket,
        "AWS_ACCESS_KEY_ID": config.access_key,
        "AWS_SECRET_ACCESS_KEY": config.secret_key,
        "AWS_S3_ENDPOINT_URL": config.endpoint_url,
        "AWS_S3_REGION_NAME": config.region,
        "AWS_LOCATION": config.prefix,
        "STORAGE_S3_PART_SIZE_MB": "5",
        "DATABASE_URL": database_url(connection.settings_dict["NAME"]),
    }


@pytest.mark.django_db(transaction=True)
def test_a_killed_run_restarts_safely(seaweed, object_store, store, storage_root, make_request):
    request = make_request()
    rows = []
    for index in range(1, 41):
        content = hashlib.sha256(str(index).encode()).digest() * 16384  # 512 KiB each
        rows.append(local(request, Category.FRAMES, f"frame_{index:03d}.jpg", content))
    command = ["migrate_storage", "--to", "s3", "--batch-size", "1", "--delete-local"]
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), *command],
        cwd=ROOT,
        env={**os.environ, **s3_env(seaweed, object_store, storage_root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def switched() -> int:
        return MediaFile.objects.filter(storage_path__startswith="s3://").count()

    try:
        wait_until(lambda: switched() >= 3, 60, "the first rows to be switched", every=0.05)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    partway = switched()
    assert partway < len(rows), "the run finished before it could be killed"

    text = migrate("--delete-local")
    assert f"{partway} already in the bucket, copied and switched {40 - partway}" in text
    for stored, row in rows:
        fresh = MediaFile.objects.get(pk=row.pk)
        assert fresh.storage_path == store.uri_for(stored.relative_path)
        assert store.sha256_of(stored.relative_path) == (stored.size_bytes, stored.sha256)
        assert not stored.path.exists()
    assert ContactSheet.objects.count() == 0
