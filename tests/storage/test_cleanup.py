"""Cleanup deletes exactly what expired, in every category, marks rows, keeps
outputs, and never runs twice at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from storage_app.cleanup import run_cleanup
from storage_app.layout import LOCK_FILENAME, Category, retention_for
from storage_app.locking import LOCK_ID, LOCK_NAMESPACE, StorageBusyError, storage_lock
from storage_app.models import ContactSheet, MediaFile
from storage_app.records import record_contact_sheet, record_media_file
from storage_app.tasks import SYSTEM_ACTOR
from storage_app.writer import store_file
from tests.conftest import database_url, run_manage, wait_until

pytestmark = pytest.mark.django_db

NAMES = {
    Category.UPLOADS: "original.mp4",
    Category.FRAMES: "frame_001.jpg",
    Category.CONTACT_SHEETS: "contact_sheet.jpg",
    Category.OUTPUTS: "result.json",
}


def indexed(request, category: Category, days_ago: int, content: bytes = b"data", name=None):
    """A stored file and its row, as if written ``days_ago`` days ago."""
    written = timezone.now() - timedelta(days=days_ago)
    stored = store_file(
        content,
        category=category,
        request_id=request.id,
        name=name or NAMES[category],
        on_date=written,
    )
    if category is Category.CONTACT_SHEETS:
        sheet = record_contact_sheet(stored, frames_count=6)
        ContactSheet.objects.filter(pk=sheet.pk).update(created_at=written)
        return stored, sheet
    row = record_media_file(stored, mime_type="application/octet-stream")
    retention = retention_for(category)
    MediaFile.objects.filter(pk=row.pk).update(
        uploaded_at=written, expires_at=written + retention if retention else None
    )
    return stored, row


def age_tree(path, hours: float) -> None:
    stamp = time.time() - hours * 3600
    for current, dirs, files in os.walk(path):
        for name in dirs + files:
            os.utime(os.path.join(current, name), (stamp, stamp))
    os.utime(path, (stamp, stamp))


@pytest.fixture
def scene(storage_root, make_request):
    """One expired and one live file in each category, plus temp entries."""
    request = make_request()
    scene = {
        "uploads_old": indexed(request, Category.UPLOADS, 10, b"u" * 100),
        "uploads_new": indexed(request, Category.UPLOADS, 1),
        "frames_old": indexed(request, Category.FRAMES, 40, b"f" * 200),
        "frames_new": indexed(request, Category.FRAMES, 5),
        "sheet_old": indexed(request, Category.CONTACT_SHEETS, 40, b"s" * 300),
        "sheet_new": indexed(request, Category.CONTACT_SHEETS, 2),
        "outputs_old": indexed(request, Category.OUTPUTS, 400),
    }
    temp_old = store_file(b"t" * 50, category=Category.TEMP, request_id=request.id, name="a.part")
    age_tree(temp_old.path.parent, hours=30)
    other = make_request()
    scene["temp_new"] = store_file(b"t", category=Category.TEMP, request_id=other.id, name="b.part")
    scene["temp_old"] = temp_old
    return scene


def test_exactly_the_expired_files_go_in_every_category(scene, storage_root):
    report = run_cleanup(actor=SYSTEM_ACTOR)

    for key in ("uploads_old", "frames_old", "sheet_old"):
        stored, row = scene[key]
        assert not stored.path.exists(), key
        assert not stored.path.parent.parent.exists(), f"{key}: empty date folder left"
    for key in ("uploads_new", "frames_new", "sheet_new", "outputs_old"):
        stored, row = scene[key]
        assert stored.path.exists(), key
    assert not scene["temp_old"].path.parent.exists()
    assert scene["temp_new"].path.exists()

    for key in ("uploads_old", "frames_old"):
        row = MediaFile.objects.get(pk=scene[key][1].pk)
        assert row.deleted_at == report.now  # kept, marked
    for key in ("uploads_new", "frames_new", "outputs_old"):
        assert MediaFile.objects.get(pk=scene[key][1].pk).deleted_at is None
    sheet = ContactSheet.objects.get(pk=scene["sheet_old"][1].pk)
    assert sheet.metadata["deleted_at"] == report.now.isoformat()
    assert sheet.metadata["deleted_by"] == "system:cleanup"
    assert "deleted_at" not in ContactSheet.objects.get(pk=scene["sheet_new"][1].pk).metadata

    counts = report.categories
    assert (counts["uploads"].files_deleted, counts["uploads"].bytes_freed) == (1, 100)
    assert (counts["frames"].files_deleted, counts["frames"].bytes_freed) == (1, 200)
    assert (counts["contact-sheets"].files_deleted, counts["contact-sheets"].bytes_freed) == (
        1,
        300,
    )
    assert counts["contact-sheets"].rows_marked == 1
    assert counts["outputs"].files_deleted == 0
    assert (counts["temp"].files_deleted, counts["temp"].bytes_freed) == (1, 50)
    assert report.total.rows_marked == 3
    assert report.total.errors == 0


def test_a_second_run_finds_nothing_more(scene):
    run_cleanup(actor=SYSTEM_ACTOR)
    again = run_cleanup(actor=SYSTEM_ACTOR)
    assert again.total.files_deleted == 0
    assert again.total.rows_marked == 0


def test_a_dry_run_changes_nothing_and_counts_the_same(scene, storage_root):
    def tree():
        return sorted(p for p in storage_root.rglob("*") if p.name != LOCK_FILENAME)

    before = tree()
    dry = run_cleanup(actor=SYSTEM_ACTOR, dry_run=True)
    assert tree() == before
    assert MediaFile.objects.filter(deleted_at__isnull=False).count() == 0
    real = run_cleanup(actor=SYSTEM_ACTOR)
    assert dry.total.files_deleted == real.total.files_deleted == 4
    assert dry.total.bytes_freed == real.total.bytes_freed == 650
    assert dry.total.rows_marked == real.total.rows_marked


def test_a_category_limits_the_run(scene):
    report = run_cleanup(actor=SYSTEM_ACTOR, categories=["frames"])
    assert not scene["frames_old"][0].path.exists()
    assert scene["uploads_old"][0].path.exists()
    assert scene["sheet_old"][0].path.exists()
    assert scene["temp_old"].path.exists()
    assert set(report.categories) == {"frames"}


def test_many_expired_rows_are_handled_in_batches(storage_root, make_request):
    rows = []
    for _ in range(7):
        request = make_request()
        rows.append(indexed(request, Category.FRAMES, 31)[1])
    report = run_cleanup(actor=SYSTEM_ACTOR, batch_size=2)
    assert report.categories["frames"].files_deleted == 7
    assert (
        MediaFile.objects.filter(pk__in=[r.pk for r in rows], deleted_at__isnull=True).count() == 0
    )


def test_a_row_whose_file_is_gone_is_marked_all_the_same(storage_root, make_request):
    stored, row = indexed(make_request(), Category.UPLOADS, 9)
    stored.path.unlink()
    report = run_cleanup(actor=SYSTEM_ACTOR)
    assert report.categories["uploads"].files_missing == 1
    assert MediaFile.objects.get(pk=row.pk).deleted_at is not None


def test_a_row_pointing_outside_the_root_is_left_alone(storage_root, outside, make_request):
    victim = outside / "precious.txt"
    victim.write_text("keep me")
    row = MediaFile.objects.create(
        request=make_request(),
        filename="precious.txt",
        storage_path=str(victim),
        expires_at=timezone.now() - timedelta(days=1),
    )
    report = run_cleanup(actor=SYSTEM_ACTOR)
    assert victim.read_text() == "keep me"
    assert MediaFile.objects.get(pk=row.pk).deleted_at is None
    assert report.total.errors == 1


def test_rowless_files_past_retention_and_stale_partials_go(storage_root, make_request):
    request = make_request()
    old = store_file(
        b"orphan",
        category=Category.FRAMES,
        request_id=request.id,
        name="frame_009.jpg",
        on_date=timezone.now() - timedelta(days=45),
    )
    young = store_file(
        b"young", category=Category.FRAMES, request_id=request.id, name="frame_001.jpg"
    )
    stale_partial = young.path.parent / ".tmp-0123456789abcdef.part"
    stale_partial.write_bytes(b"half")
    age_tree(stale_partial, hours=25)
    fresh_partial = young.path.parent / ".tmp-fedcba9876543210.part"
    fresh_partial.write_bytes(b"writing")

    report = run_cleanup(actor=SYSTEM_ACTOR)
    assert not old.path.exists()
    assert young.path.exists()  # not past retention: check_storage reports it instead
    assert not stale_partial.exists()
    assert fresh_partial.exists()
    assert report.categories["frames"].orphans_deleted == 1
    assert report.categories["frames"].partials_deleted == 1


def test_todays_empty_folders_are_left_for_writers(storage_root, make_request):
    stored, _ = indexed(make_request(), Category.UPLOADS, 0)
    stored.path.unlink()
    run_cleanup(actor=SYSTEM_ACTOR)
    assert stored.path.parent.is_dir()


# ----------------------------------------------------------------- one run at a time
HOLDER = """
import sys, time, psycopg
conn = psycopg.connect(sys.argv[1], autocommit=True, application_name="test-holder")
conn.execute("SELECT pg_advisory_lock(%s, %s)", [int(sys.argv[2]), int(sys.argv[3])])
print("locked", flush=True)
time.sleep(120)
"""


def this_database_url() -> str:
    return database_url(connection.settings_dict["NAME"])


@pytest.fixture
def lock_holder(storage_root):
    """Another real process holding the storage lock in its own database session,
    as a run on another host would (killed with SIGKILL afterwards)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, this_database_url(), str(LOCK_NAMESPACE), str(LOCK_ID)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "locked"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


def test_a_run_exits_at_once_while_another_process_holds_the_lock(scene, lock_holder):
    started = time.monotonic()
    with pytest.raises(StorageBusyError, match=r"in progress \(test-holder, connected since"):
        run_cleanup(actor=SYSTEM_ACTOR)
    assert time.monotonic() - started < 2
    assert scene["uploads_old"][0].path.exists()  # nothing was done


def test_a_killed_holder_leaves_no_stale_lock(scene, lock_holder):
    os.kill(lock_holder.pid, signal.SIGKILL)
    lock_holder.wait(timeout=10)

    def cleaned():  # the server notices the dead session a moment after the kill
        try:
            return run_cleanup(actor=SYSTEM_ACTOR)
        except StorageBusyError:
            return None

    report = wait_until(cleaned, 10, "the dead holder's lock to be released", every=0.1)
    assert report.categories["uploads"].files_deleted == 1


def test_the_command_says_so_and_exits_75_when_busy(storage_root, lock_holder):
    env = {"MEDIA_ANALYSIS_STORAGE_ROOT": str(storage_root), "DATABASE_URL": this_database_url()}
    result = run_manage("cleanup_storage", env=env, check=False)
    assert result.returncode == 75
    assert "another storage run is in progress" in result.stderr
    assert "test-holder" in result.stderr


def test_a_run_here_makes_the_command_on_another_host_busy(storage_root, tmp_path):
    """Two processes that share only the database: the command, with a storage root
    of its own (nothing on disk in common), is refused while this run holds the lock."""
    elsewhere = tmp_path / "other-host-root"
    elsewhere.mkdir()
    env = {"MEDIA_ANALYSIS_STORAGE_ROOT": str(elsewhere), "DATABASE_URL": this_database_url()}
    with storage_lock("cleanup") as name:
        assert name.startswith(f"storage-lock:cleanup pid={os.getpid()} host=")
        busy = run_manage("cleanup_storage", "--dry-run", env=env, check=False)
        assert busy.returncode == 75, busy.stdout + busy.stderr
        assert f"storage-lock:cleanup pid={os.getpid()}" in busy.stderr
    free = run_manage("cleanup_storage", "--dry-run", env=env, check=False)
    assert free.returncode == 0, free.stdout + free.stderr


def test_the_lock_is_held_by_a_session_of_its_own(storage_root):
    with storage_lock("check"):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name LIKE 'storage-lock:check pid=%%'"
            )
            assert cursor.fetchone()[0] == 1
        with pytest.raises(StorageBusyError, match="storage-lock:check pid="):
            with storage_lock("cleanup"):  # the same thread: still refused
                pass


def test_two_threads_do_not_both_run(storage_root):
    inside = threading.Event()
    release = threading.Event()
    outcome = {}

    def first():
        with storage_lock("cleanup"):
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(10)
    try:
        with storage_lock("cleanup"):
            outcome["second"] = "ran"
    except StorageBusyError:
        outcome["second"] = "refused"
    finally:
        release.set()
        thread.join(10)
    assert outcome["second"] == "refused"
    with storage_lock("cleanup"):  # free again once the first has finished
        pass


# ------------------------------------------------------------------------- command
def test_the_command_prints_counts(scene):
    out = StringIO()
    call_command("cleanup_storage", "--dry-run", "--category", "uploads", stdout=out)
    text = out.getvalue()
    assert "uploads: [dry run] would have deleted 1 files" in text
    assert "total:" in text and "100 bytes" in text
    assert scene["uploads_old"][0].path.exists()
    out = StringIO()
    call_command("cleanup_storage", stdout=out)
    assert "freed 650 B (650 bytes)" in out.getvalue()
    assert not scene["uploads_old"][0].path.exists()
