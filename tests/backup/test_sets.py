"""Successive sets: hard links for unchanged files, the nightly schedule, retention."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from celery.schedules import crontab

from storage_app.backup.manifest import read_manifest
from storage_app.backup.record import BackupRun
from storage_app.backup.sets import complete_sets
from storage_app.backup.tasks import nightly_backup
from tests.backup.conftest import (
    current_database,
    env_for,
    files_under,
    manage,
    submit_and_analyse,
)
from tests.conftest import run_manage
from tests.processing.media_factory import make_video

pytestmark = pytest.mark.django_db(transaction=True)


def disk_usage_kib(*folders: Path) -> list[int]:
    """``du -sk`` of each folder in one run: a file hard-linked into an earlier
    folder is counted there only, as the disk counts it."""
    result = subprocess.run(
        ["du", "-sk", *map(str, folders)], capture_output=True, text=True, check=True
    )
    return [int(line.split()[0]) for line in result.stdout.splitlines()]


def test_the_second_set_hard_links_the_unchanged_files(
    analysed, storage_root, tmp_path, alice, media
):
    # A 20 s 720p clip besides the three small ones: a set's fixed cost (the dump,
    # the manifest, one 4 KiB block per folder) is then small beside the media, as
    # it is in a real deployment.
    clip = make_video(tmp_path / "long.mp4", seconds=20.0, width=1280, height=720)
    submit_and_analyse(alice, clip)
    backups = tmp_path / "backups"
    env = env_for(current_database(), storage_root, BACKUP_DIR=str(backups))
    first = manage("backup", env=env)
    assert first.returncode == 0, first.stderr
    second = manage("backup", env=env)
    assert second.returncode == 0, second.stderr
    one, two = complete_sets(backups)

    stored = files_under(storage_root)
    for relative in stored:
        a, b = (one / "files" / relative).stat(), (two / "files" / relative).stat()
        assert a.st_ino == b.st_ino and b.st_nlink == 2, relative
    manifest = read_manifest(two)
    assert manifest.storage.previous_set == one.name
    assert manifest.storage.linked_count == manifest.storage.file_count == len(stored)
    first_kib, second_kib = disk_usage_kib(one, two)
    print(f"\nfirst set {first_kib} KiB, second set {second_kib} KiB (du, hard links counted once)")
    assert second_kib < 0.10 * first_kib

    # A new analysis: its files are copied, the rest still linked.
    submit_and_analyse(alice, media["image"], prompt="Again?")
    third = manage("backup", env=env)
    assert third.returncode == 0, third.stderr
    three = complete_sets(backups)[-1]
    new_files = set(files_under(storage_root)) - set(stored)
    assert new_files
    for relative in new_files:
        assert (three / "files" / relative).stat().st_nlink == 1
    for relative in stored:
        assert (three / "files" / relative).stat().st_ino == (
            one / "files" / relative
        ).stat().st_ino
    assert read_manifest(three).storage.linked_count == len(stored)
    verified = manage("verify_backup", str(three), env=env)
    assert verified.returncode == 0, verified.stderr


def test_a_changed_file_is_copied_not_linked(analysed, storage_root, tmp_path):
    backups = tmp_path / "backups"
    env = env_for(current_database(), storage_root, BACKUP_DIR=str(backups))
    assert manage("backup", env=env).returncode == 0
    summary = next(storage_root.glob("outputs/*/*/summary.txt"))
    summary.write_text(summary.read_text() + " (edited)")  # same path, new content
    assert manage("backup", env=env).returncode == 0
    one, two = complete_sets(backups)
    relative = summary.relative_to(storage_root).as_posix()
    assert (two / "files" / relative).read_text().endswith("(edited)")
    assert (two / "files" / relative).stat().st_ino != (one / "files" / relative).stat().st_ino
    # The earlier set still holds what was there then.
    assert not (one / "files" / relative).read_text().endswith("(edited)")


# -------------------------------------------------------------- schedule
def _beat_schedule(**env: str) -> str:
    code = (
        "from django.conf import settings; "
        "entry = settings.CELERY_BEAT_SCHEDULE.get('backup-nightly'); "
        "print(repr(entry and (entry['task'], entry['schedule'])), settings.BACKUP_KEEP)"
    )
    result = run_manage("shell", "-v", "0", "-c", code, env={"BACKUP_DIR": "", **env}, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_beat_runs_one_backup_nightly_only_when_backup_dir_is_set(tmp_path):
    assert _beat_schedule() == "None 7"
    configured = _beat_schedule(
        BACKUP_DIR=str(tmp_path), BACKUP_HOUR="2", BACKUP_MINUTE="15", BACKUP_KEEP="4"
    )
    expected = crontab(hour=2, minute=15)
    assert configured == f"('storage_app.backup.nightly', {expected!r}) 4"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BACKUP_KEEP": "0"}, "BACKUP_KEEP=0 is below the minimum 1"),
        ({"BACKUP_HOUR": "25"}, "BACKUP_HOUR=25 is above the maximum 23"),
        ({"BACKUP_DIR": "relative/backups"}, "must be an absolute path"),
        (
            {"BACKUP_LOCK_WAIT_SECONDS": "7200", "BACKUP_TIME_LIMIT": "3600"},
            "BACKUP_LOCK_WAIT_SECONDS=7200 must be below BACKUP_TIME_LIMIT=3600",
        ),
    ],
)
def test_junk_backup_settings_are_refused_at_start_up(env, message):
    result = run_manage("check", env=env, check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_the_nightly_task_keeps_exactly_backup_keep_sets(
    analysed, storage_root, tmp_path, settings
):
    settings.BACKUP_DIR = str(tmp_path / "backups")
    settings.BACKUP_KEEP = 3
    names = []
    for _ in range(5):
        summary = nightly_backup.apply().get()
        names.append(Path(summary["set"]).name)
    kept = [path.name for path in complete_sets(Path(settings.BACKUP_DIR))]
    assert kept == names[-3:]
    assert sorted(os.listdir(settings.BACKUP_DIR)) == sorted([*names[-3:], ".backup.lock"])
    assert BackupRun.objects.filter(kind="backup", status="succeeded").count() == 5
    pruned = BackupRun.objects.filter(details__has_key="pruned").values_list("details", flat=True)
    assert sorted(name for details in pruned for name in details["pruned"]) == names[:2]
    # Every kept set is still whole: pruning an older set never takes a linked file.
    for name in kept:
        assert manage("verify_backup", str(tmp_path / "backups" / name),
                      env=env_for(current_database(), storage_root)).returncode == 0  # fmt: skip


def test_the_nightly_task_does_nothing_without_backup_dir(settings):
    settings.BACKUP_DIR = None
    assert nightly_backup.apply().get() == {"skipped": "BACKUP_DIR is not set"}
