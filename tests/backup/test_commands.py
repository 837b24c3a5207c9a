"""``manage.py backup``, ``verify_backup`` and ``restore`` run as child processes,
the way an operator types them, on the test database and real analysed media."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from django.db import connection

from analysis.models import AnalysisRequest
from audit.models import AuditLogEntry
from storage_app.backup.record import BackupRun
from storage_app.models import MediaFile
from tests.backup.conftest import (
    current_database,
    env_for,
    files_under,
    manage,
    manifest_files,
    query,
    read_summary,
    table_names,
)
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def _backup(storage_root: Path, output: Path, **extra: str):
    result = manage(
        "backup", "--output", str(output), env=env_for(current_database(), storage_root, **extra)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_a_set_holds_the_dump_every_stored_file_but_temp_and_a_manifest(
    analysed, storage_root, tmp_path
):
    (storage_root / "temp" / "work").mkdir(parents=True)
    (storage_root / "temp" / "work" / "scratch.bin").write_bytes(b"not backed up")
    set_dir = tmp_path / "sets" / "first"

    result = _backup(storage_root, set_dir)

    assert "backup set" in result.stdout and str(set_dir) in result.stdout
    assert not list(set_dir.parent.glob(".partial-*"))
    summary = read_summary(set_dir)
    # The database: this project's tables, counted in the dump's snapshot.
    tables = summary["database"]["tables"]
    with connection.cursor() as cursor:
        for name in ("media_analysis_requests", "media_analysis_results", "media_files",
                     "contact_sheets", "audit_log", "auth_user", "api_tokens",
                     "django_migrations", "django_content_type"):  # fmt: skip
            cursor.execute(f'SELECT count(*) FROM "{name}"')
            now = cursor.fetchone()[0]
            # The run's own "succeeded" entry was written after the snapshot.
            assert tables[f"public.{name}"] == now - (name == "audit_log"), name
    assert tables["public.media_analysis_requests"] == 3
    assert tables["public.backup_runs"] == 1  # its own run, still "running" in the snapshot
    assert summary["database"]["enum_types"] == [
        '"public"."media_analysis_status"',
        '"public"."media_type_enum"',
    ]
    assert summary["database"]["functions"] == ["public.audit_log_refuse_change()"]
    server_major = connection.pg_version // 10000
    assert summary["database"]["server_version"].startswith(f"{server_major}.")
    assert int(summary["database"]["pg_dump_version"].split(".")[0]) >= server_major
    assert summary["migrations"]["analysis"][0] == "0001_initial"
    assert "0002_backup_runs" in summary["migrations"]["storage_app"]
    with (ROOT / "pyproject.toml").open("rb") as pyproject:
        assert summary["project_version"] == tomllib.load(pyproject)["project"]["version"]
    assert summary["consistency"] == {"examples": [], "live_rows": summary["consistency"]["live_rows"],
                                      "missing": 0, "mismatched": 0}  # fmt: skip
    assert summary["consistency"]["live_rows"] >= 3 + 6 + 1  # uploads, frames, the sheet

    # The files: every stored file but temp/, byte for byte, listed with size and SHA-256.
    stored = files_under(storage_root)
    assert not any(path.startswith("temp/") for path in stored)
    listed = manifest_files(set_dir)
    assert set(listed) == set(stored)
    assert list(listed) == sorted(listed)
    for relative, content in stored.items():
        assert (set_dir / "files" / relative).read_bytes() == content
        assert listed[relative]["size"] == len(content)
        assert listed[relative]["sha256"] == hashlib.sha256(content).hexdigest()
    assert summary["storage"]["file_count"] == len(stored)

    verified = manage("verify_backup", str(set_dir), env=env_for(current_database(), storage_root))
    assert verified.returncode == 0, verified.stderr
    assert f"OK, {len(stored)} files" in verified.stdout

    runs = {(r.kind, r.status) for r in BackupRun.objects.all()}
    assert runs == {("backup", "succeeded"), ("verify", "succeeded")}
    actors = set(
        AuditLogEntry.objects.filter(table_name="backup_runs").values_list(
            "performed_by", flat=True
        )
    )
    assert actors == {"system:backup", "system:verify-backup"}


def test_the_dump_is_made_with_the_tools_matching_the_server(analysed, storage_root, tmp_path):
    result = _backup(storage_root, tmp_path / "set")
    embedded = connection.settings_dict["HOST"].startswith("/")
    origin = "the embedded server's" if embedded else "the system's"
    assert f"database dumped with {origin} pg_dump" in result.stdout


def test_a_pg_dump_older_than_the_server_is_refused_and_nothing_is_written(
    analysed, storage_root, tmp_path
):
    server_major = connection.pg_version // 10000
    old_tools = _tools_reporting(tmp_path / "old-client", server_major - 1)
    output = tmp_path / "sets" / "refused"

    result = manage(
        "backup", "--output", str(output),
        env=env_for(current_database(), storage_root, BACKUP_PG_BIN_DIR=str(old_tools)),
    )  # fmt: skip

    assert result.returncode == 1
    assert f"PostgreSQL {server_major} client tools or newer are needed" in result.stderr
    assert f"postgresql-client-{server_major}" in result.stderr
    assert not output.exists() and not list(output.parent.glob(".partial-*"))
    failed = BackupRun.objects.get(kind="backup")
    assert failed.status == "failed" and "too old" in failed.error


def test_debians_real_pg_dump_15_is_refused_by_a_newer_server(analysed, storage_root, tmp_path):
    server_major = connection.pg_version // 10000
    if server_major <= 15 or not Path("/usr/lib/postgresql/15/bin/pg_dump").exists():
        pytest.skip("needs a server newer than Debian's PostgreSQL 15 client (the embedded one)")
    result = manage(
        "backup", "--output", str(tmp_path / "set"),
        env=env_for(current_database(), storage_root, BACKUP_PG_BIN_DIR="/usr/lib/postgresql/15/bin"),
    )  # fmt: skip
    assert result.returncode == 1
    assert "pg_dump 15." in result.stderr
    assert f"PostgreSQL {server_major} client tools or newer are needed" in result.stderr


def _tools_reporting(folder: Path, major: int) -> Path:
    """Client tools that only answer ``--version`` with an older major version."""
    folder.mkdir()
    for tool in ("pg_dump", "pg_restore", "psql"):
        script = folder / tool
        script.write_text(f"#!/bin/sh\necho '{tool} (PostgreSQL) {major}.9'\n")
        script.chmod(0o755)
    return folder


# ------------------------------------------------------------------ refusals
def _restore(set_dir: Path, database: str, storage: Path, *flags: str):
    return manage("restore", str(set_dir), *flags, env=env_for(database, storage))


def test_a_set_with_one_corrupted_file_is_refused_before_anything_changes(
    analysed, storage_root, tmp_path, databases
):
    set_dir = tmp_path / "set"
    _backup(storage_root, set_dir)
    sheet = next((set_dir / "files" / "contact-sheets").rglob("contact_sheet.jpg"))
    data = bytearray(sheet.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    sheet.write_bytes(bytes(data))
    target_db, target_storage = databases.create("corrupt"), tmp_path / "fresh-storage"
    target_storage.mkdir()

    verified = manage("verify_backup", str(set_dir), env=env_for(current_database(), storage_root))
    restored = _restore(set_dir, target_db, target_storage)

    relative = sheet.relative_to(set_dir).as_posix()
    assert verified.returncode == 1 and f"checksum differs: {relative}" in verified.stderr
    assert restored.returncode == 2, restored.stdout + restored.stderr
    assert "restore refused, nothing was changed" in restored.stderr
    assert f"checksum differs: {relative}" in restored.stderr
    assert table_names(target_db) == set()  # not even a table was created
    assert list(target_storage.iterdir()) == []


def test_a_set_without_its_dump_is_refused_before_anything_changes(
    analysed, storage_root, tmp_path, databases
):
    set_dir = tmp_path / "set"
    _backup(storage_root, set_dir)
    (set_dir / "database" / "project.dump").unlink()
    target_db, target_storage = databases.create("nodump"), tmp_path / "fresh-storage"
    target_storage.mkdir()

    restored = _restore(set_dir, target_db, target_storage)

    assert restored.returncode == 2
    assert "missing: database/project.dump" in restored.stderr
    assert table_names(target_db) == set()
    assert list(target_storage.iterdir()) == []


def test_a_missing_folder_and_a_half_written_set_are_refused(analysed, storage_root, tmp_path):
    env = env_for(current_database(), storage_root)
    missing = manage("restore", str(tmp_path / "nowhere"), env=env)
    assert missing.returncode == 2 and "is not a folder" in missing.stderr

    set_dir = tmp_path / "set"
    _backup(storage_root, set_dir)
    manifest = set_dir / "manifest.json"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[: len(lines) // 2]))  # cut short, as a crash would
    verified = manage("verify_backup", str(set_dir), env=env)
    assert verified.returncode == 1 and "truncated" in verified.stderr
    requests = AnalysisRequest.objects.count()
    restored = manage("restore", str(set_dir), "--force", env=env)
    assert restored.returncode == 2 and "truncated" in restored.stderr
    assert AnalysisRequest.objects.count() == requests


def test_restore_into_a_database_holding_requests_is_refused_without_force(
    analysed, storage_root, tmp_path, databases
):
    set_dir = tmp_path / "set"
    _backup(storage_root, set_dir)
    target_db = databases.create("nonempty")
    first_storage = tmp_path / "storage-1"
    assert _restore(set_dir, target_db, first_storage).returncode == 0
    # Something only the target has: a restore without --force must leave it alone.
    query(target_db, "INSERT INTO auth_user (password, is_superuser, username, first_name, "
          "last_name, email, is_staff, is_active, date_joined) VALUES ('', false, 'mallory', "
          "'', '', '', false, true, now())")  # fmt: skip
    second_storage = tmp_path / "storage-2"
    second_storage.mkdir()

    refused = _restore(set_dir, target_db, second_storage)

    assert refused.returncode == 2
    assert "already holds 3 analysis request(s)" in refused.stderr
    assert query(target_db, "SELECT count(*) FROM auth_user WHERE username = 'mallory'") == [(1,)]
    assert list(second_storage.iterdir()) == []

    forced = _restore(set_dir, target_db, second_storage, "--force")

    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert query(target_db, "SELECT count(*) FROM auth_user WHERE username = 'mallory'") == [(0,)]
    assert files_under(second_storage) == files_under(storage_root)


def test_a_non_empty_storage_root_is_refused_without_force(
    analysed, storage_root, tmp_path, databases
):
    set_dir = tmp_path / "set"
    _backup(storage_root, set_dir)
    target_db = databases.create("storage")
    busy_storage = tmp_path / "busy"
    (busy_storage / "outputs").mkdir(parents=True)
    (busy_storage / "outputs" / "keep.txt").write_text("someone else's")

    refused = _restore(set_dir, target_db, busy_storage)

    assert refused.returncode == 2 and "is not empty" in refused.stderr
    assert table_names(target_db) == set()
    forced = _restore(set_dir, target_db, busy_storage, "--force")
    assert forced.returncode == 0, forced.stderr
    assert (busy_storage / "outputs" / "keep.txt").read_text() == "someone else's"


def test_an_interrupted_backup_never_looks_like_a_set(analysed, storage_root, tmp_path, settings):
    """A run killed mid-copy leaves only a hidden partial folder; the next run
    removes it and records the killed run as failed."""
    backups = tmp_path / "backups"
    big = storage_root / "outputs" / "2026-01-01" / "big.bin"
    big.parent.mkdir(parents=True)
    with big.open("wb") as handle:  # sparse: quick to make, slow enough to copy
        handle.truncate(768 * 1024 * 1024)
    env = env_for(current_database(), storage_root, BACKUP_DIR=str(backups))
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "backup"],
        cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(backups.glob(".partial-*/files/outputs")):
        time.sleep(0.02)
    process.kill()
    process.wait()
    assert [p.name.startswith(".partial-") for p in backups.iterdir() if p.is_dir()] == [True]
    assert BackupRun.objects.get().status == "running"

    big.unlink()
    result = manage("backup", env=env)

    assert result.returncode == 0, result.stderr
    assert "left by an interrupted backup" in result.stdout
    assert [p.name for p in backups.iterdir() if p.is_dir()] == [
        BackupRun.objects.get(status="succeeded").set_name
    ]
    killed = BackupRun.objects.get(status="failed")
    assert killed.error.startswith("interrupted")
    shutil.rmtree(backups)


def test_a_restore_finding_a_live_row_without_its_file_says_so_and_exits_non_zero(
    analysed, storage_root, tmp_path, databases
):
    lost = MediaFile.objects.filter(relative_path__startswith="frames/").first()
    (storage_root / lost.relative_path).unlink()  # gone from the disk before the backup
    set_dir = tmp_path / "set"
    made = _backup(storage_root, set_dir)
    assert "1 live rows had no file" in made.stderr
    assert read_summary(set_dir)["consistency"]["examples"] == [f"missing: {lost.relative_path}"]
    target_db = databases.create("mismatch")

    restored = _restore(set_dir, target_db, tmp_path / "restored")

    assert restored.returncode == 1, restored.stdout + restored.stderr
    assert "the restored data does not match the set" in restored.stderr
    assert f"missing: {lost.relative_path}" in restored.stderr
    assert query(target_db, "SELECT status, error FROM backup_runs WHERE kind = 'restore'") == [
        ("failed", f"missing: {lost.relative_path}")
    ]
