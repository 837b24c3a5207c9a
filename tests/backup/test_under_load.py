"""A backup taken while the service works: cleanup is due, analyses keep writing.

The backup holds ``.cleanup.lock`` from before its snapshot until the last file
is copied, so cleanup cannot delete a file the snapshot still references; files
written after the snapshot are copied as harmless extras."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from analysis.models import AnalysisRequest
from storage_app.backup.manifest import read_manifest
from storage_app.cleanup import run_cleanup
from storage_app.locking import StorageBusyError, storage_lock
from storage_app.models import MediaFile
from tests.backup.conftest import current_database, env_for, manage, query, submit_and_analyse
from tests.conftest import ROOT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


class Command:
    """``manage.py …`` in the background, its output read line by line as it comes."""

    def __init__(self, *args: str, env: dict[str, str]):
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for(self, fragment: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(fragment in line for line in self.lines):
                return
            if self.process.poll() is not None:
                self._reader.join(5)
                if any(fragment in line for line in self.lines):
                    return
                break
            time.sleep(0.01)
        raise AssertionError(f"no {fragment!r} in:\n{''.join(self.lines)}")

    def finish(self, timeout: float = 300) -> int:
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    @property
    def output(self) -> str:
        return "".join(self.lines)


def _big_file(storage_root: Path, size: int) -> None:
    """A large output (sparse: made at once) so the copy takes a while."""
    path = storage_root / "outputs" / "2026-01-01" / "00000000-0000-0000-0000-000000000000"
    path.mkdir(parents=True)
    with (path / "result.json").open("wb") as handle:
        handle.truncate(size)


def test_a_backup_taken_while_cleanup_is_due_and_analyses_run_restores_consistently(
    analysed, storage_root, tmp_path, alice, media, databases
):
    # Cleanup is due: every upload has expired.
    past = timezone.now() - timedelta(days=1)
    expired = MediaFile.objects.filter(relative_path__startswith="uploads/")
    expired_paths = set(expired.values_list("relative_path", flat=True))
    assert expired.update(expires_at=past) == len(expired_paths) >= 3
    _big_file(storage_root, 512 * 1024 * 1024)
    set_dir = tmp_path / "set"

    backup = Command(
        "backup", "--output", str(set_dir), env=env_for(current_database(), storage_root)
    )
    backup.wait_for("snapshot taken")
    # The copy is under way: cleanup cannot start...
    with pytest.raises(StorageBusyError, match="backup pid="):
        run_cleanup(actor="system:cleanup")
    # ...while analyses go on writing (their files are extras for this set).
    late = submit_and_analyse(alice, media["image"], prompt="Written after the snapshot")
    assert backup.finish() == 0, backup.output
    assert all((storage_root / p).exists() for p in expired_paths)

    # Now the cleanup runs: the expired uploads go from the live storage.
    report = run_cleanup(actor="system:cleanup")
    assert report.total.rows_marked >= len(expired_paths)
    assert not any((storage_root / p).exists() for p in expired_paths)

    manifest = read_manifest(set_dir)
    assert manifest.consistency.ok, manifest.consistency
    assert manifest.database.tables["public.media_analysis_requests"] == 3  # not the late one
    target_db, target_storage = databases.create("underload"), tmp_path / "restored"
    restored = manage("restore", str(set_dir), env=env_for(target_db, target_storage))

    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "live file rows have their file with the recorded checksum" in restored.stdout
    # As of the snapshot: the uploads were live, and their files came back.
    rows = query(
        target_db,
        "SELECT relative_path, checksum FROM media_files "
        "WHERE relative_path LIKE 'uploads/%%' AND deleted_at IS NULL",
    )
    assert {path for path, _ in rows} == expired_paths
    assert all((target_storage / path).is_file() for path in expired_paths)
    assert query(
        target_db, "SELECT count(*) FROM media_analysis_requests WHERE id = %s", (late,)
    ) == [(0,)]
    assert AnalysisRequest.objects.filter(pk=late).exists()


def test_a_backup_waits_for_a_running_cleanup_then_takes_its_snapshot(
    analysed, storage_root, tmp_path
):
    env = env_for(current_database(), storage_root, BACKUP_LOCK_WAIT_SECONDS="120")
    with storage_lock("cleanup"):  # a cleanup run in progress
        backup = Command("backup", "--output", str(tmp_path / "set"), env=env)
        backup.wait_for("waiting up to 120 s for the storage lock")
        time.sleep(0.5)
        assert backup.process.poll() is None
        assert "snapshot taken" not in backup.output
    assert backup.finish() == 0, backup.output
    assert "snapshot taken" in backup.output


def test_a_backup_that_cannot_get_the_storage_lock_in_time_exits_busy(
    analysed, storage_root, tmp_path
):
    env = env_for(current_database(), storage_root, BACKUP_LOCK_WAIT_SECONDS="1")
    with storage_lock("cleanup"):
        result = manage("backup", "--output", str(tmp_path / "set"), env=env)
    assert result.returncode == 75, result.stdout + result.stderr
    assert "lock" in result.stderr and "cleanup pid=" in result.stderr
    assert not (tmp_path / "set").exists()
