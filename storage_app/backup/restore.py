"""``restore_set``: a verified set back into the database and the storage root.

Nothing changes before the set has been verified and the target found fit: an
empty database (no analysis requests; the tables need not exist) and an empty
storage root, unless ``force``. Then:

1. The database, in ONE transaction (``psql --single-transaction``): drop the
   project's tables, enum types and functions, run the set's prelude, then the
   dump as SQL (``pg_restore --file=-``, streamed). Any error rolls all of it
   back. ``audit_log``'s immutability trigger refuses UPDATE and DELETE; a
   restore does neither: the table is dropped and created again, its rows are
   loaded by COPY before the trigger is re-created (pg_restore puts triggers
   after the data), and the restored table refuses changes as before.
2. The files, each through a temporary name and checked while copied; on the
   object store each is put back into the bucket under its key, checked the same
   way, and rows are pointed at where their files now are (``objects.py``).
3. The checks: row counts against the manifest, and every live ``media_files`` /
   ``contact_sheets`` row's file read back against its recorded checksum.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connection
from django.db.migrations.loader import MigrationLoader
from django.db.models import Q
from django.utils import timezone

from media_analysis.context import acting_as
from storage_app.backends import get_backend
from storage_app.backup import dump
from storage_app.backup.create import storage_location
from storage_app.backup.files import (
    CHUNK_SIZE,
    RestoredFiles,
    hash_file,
    restore_files,
    storage_has_files,
    storage_locked,
)
from storage_app.backup.manifest import Manifest
from storage_app.backup.objects import bucket_has_objects, point_rows_at_store, restore_objects
from storage_app.backup.pgtools import PgTools, choose_tools, conninfo, environment, server_info
from storage_app.backup.record import RESTORE_ACTOR, BackupRun, RunKind, RunStatus
from storage_app.backup.verify import VerifyReport, verify_set
from storage_app.layout import UnsafePathError, path_of_record, storage_root
from storage_app.locations import is_object_row, object_key_of_row, object_store
from storage_app.models import ContactSheet, MediaFile
from storage_app.signals import database_restored

MAX_LISTED = 50
# pg_restore's first lines set session parameters; one this server does not know
# (a newer client's "SET transaction_timeout") would end the restore.
_SET_LINE = re.compile(rb"^SET ([a-z_]+) = .*;\s*$")
_HEADER_LINES = 200


class RestoreRefused(RuntimeError):
    """Nothing was changed: the set or the target is not fit."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class RestoreDatabaseError(RuntimeError):
    """psql or pg_restore failed; the transaction rolled back, the database is as it was."""


@dataclass
class RestoreReport:
    set_dir: Path
    manifest: Manifest
    verification: VerifyReport
    tools: PgTools
    files: RestoredFiles = field(default_factory=RestoredFiles)
    count_mismatches: list[str] = field(default_factory=list)
    live_rows_checked: int = 0
    file_problems: list[str] = field(default_factory=list)
    file_problem_count: int = 0
    duration_seconds: float = 0.0
    forced: bool = False
    started_at: datetime = field(default_factory=timezone.now)

    @property
    def ok(self) -> bool:
        return not self.count_mismatches and not self.file_problem_count


def restore_set(
    set_dir: Path, *, force: bool = False, say: Callable[[str], None] = print
) -> RestoreReport:
    started, started_at = time.monotonic(), timezone.now()
    verification = verify_set(set_dir)
    if not verification.ok:
        raise RestoreRefused(["the set failed verification", verification.summary()])
    manifest = verification.manifest
    assert manifest is not None
    say(verification.summary())
    server = server_info()
    dump_major = int(manifest.database.pg_dump_version.split(".")[0])
    tools = choose_tools(
        max(server.major, dump_major),
        needed_for=f"the server is PostgreSQL {server.version} and the set was written by "
        f"pg_dump {manifest.database.pg_dump_version}",
    )
    reasons = refusals(manifest, force=force)
    if reasons:
        raise RestoreRefused(reasons)
    report = RestoreReport(
        set_dir=set_dir,
        manifest=manifest,
        verification=verification,
        tools=tools,
        forced=force,
        started_at=started_at,
    )

    say(
        f"restoring the database ({len(manifest.database.tables)} tables) with {tools.origin} "
        f"pg_restore/psql {tools.version}"
    )
    restore_database(tools, set_dir, manifest)
    connection.close()  # a fresh session: types and tables were re-created
    ContentType.objects.clear_cache()
    store = object_store()
    with storage_locked(settings.BACKUP_LOCK_WAIT_SECONDS, say):
        say(f"restoring {manifest.storage.file_count} files into {storage_location()}")
        if store is not None:
            report.files = restore_objects(store, set_dir, manifest.storage.file_count)
        else:
            report.files = restore_files(set_dir, manifest.storage.file_count)
            os.sync()
    repointed = point_rows_at_store(store)
    if repointed:
        say(f"{repointed} rows now point at where their files were restored")
    report.count_mismatches = compare_counts(manifest)
    check_live_files(report)
    forget_cached_answers()
    report.duration_seconds = round(time.monotonic() - started, 3)
    try:
        record_restore(report)
    except DatabaseError as exc:  # a set from an older release, before `migrate`
        say(f"note: the restore is not in the audit log yet ({type(exc).__name__}: {exc})")
    return report


def refusals(manifest: Manifest, *, force: bool) -> list[str]:
    """Why the target must not be overwritten (empty: go ahead)."""
    reasons = []
    unknown = _unknown_migrations(manifest)
    if unknown and not force:
        reasons.append(
            "the set was made by a newer release: this code does not know the migrations "
            + ", ".join(unknown[:10])
            + " (deploy that release first, or --force)"
        )
    requests = _request_count()
    if requests and not force:
        reasons.append(
            f"the database already holds {requests} analysis request(s); restoring would replace "
            "them (--force to do it anyway)"
        )
    if _storage_has_files() and not force:
        reasons.append(
            f"the storage {storage_location()} is not empty (--force to restore over it; "
            "files the set does not hold are left in place)"
        )
    return reasons


def _storage_has_files() -> bool:
    store = object_store()
    return bucket_has_objects(store) if store is not None else storage_has_files(storage_root())


def _request_count() -> int:
    # By name, from the app registry: storage_app does not import analysis.
    table = apps.get_model("analysis", "AnalysisRequest")._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 (our model's table)
        return cursor.fetchone()[0]


def _unknown_migrations(manifest: Manifest) -> list[str]:
    """Migrations the set records as applied that this code has never heard of
    (neither on disk nor replaced by a squashed migration on disk)."""
    disk = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    known = set(disk)
    for migration in disk.values():
        known.update(migration.replaces)
    return [
        f"{app}.{name}"
        for app, names in sorted(manifest.migrations.items())
        for name in names
        if (app, name) not in known
    ]


# ------------------------------------------------------------------- database
def restore_database(tools: PgTools, set_dir: Path, manifest: Manifest) -> None:
    """Drop, prelude and dump in one psql transaction, pg_restore's SQL streamed in."""
    known_settings = _server_settings()
    with tempfile.TemporaryFile() as psql_errors, tempfile.TemporaryFile() as restore_errors:
        psql = subprocess.Popen(
            [tools.path("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
             "--no-password", f"--dbname={conninfo()}", "--file=-"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_errors, env=environment(),
        )  # fmt: skip
        pg_restore = subprocess.Popen(
            [tools.path("pg_restore"), "--no-owner", "--no-privileges", "--file=-",
             str(set_dir / manifest.database.dump.path)],
            stdout=subprocess.PIPE, stderr=restore_errors, env=environment(),
        )  # fmt: skip
        assert psql.stdin is not None and pg_restore.stdout is not None
        try:
            psql.stdin.write(_drop_sql(manifest).encode())
            psql.stdin.write((set_dir / manifest.database.prelude.path).read_bytes())
            _pump(pg_restore.stdout, psql.stdin, known_settings)
            psql.stdin.close()
        except BrokenPipeError:
            pass  # psql stopped at an error: its message is read below
        finally:
            pg_restore.stdout.close()
        restore_code, psql_code = pg_restore.wait(), psql.wait()
        if psql_code != 0 or restore_code != 0:
            raise RestoreDatabaseError(
                "the database restore failed and was rolled back: "
                f"psql exited {psql_code}: {_tail(psql_errors)}; "
                f"pg_restore exited {restore_code}: {_tail(restore_errors)}"
            )


def _drop_sql(manifest: Manifest) -> str:
    """What the dump re-creates: the set's tables and any project table here now."""
    tables = set(manifest.database.tables)
    with dump.connect(autocommit=True) as conn:
        tables |= {t.qualified for t in dump.existing_tables(conn, dump.project_table_names())}
    quoted = ", ".join(_qualified(name) for name in sorted(tables))
    lines = ["SET client_min_messages = warning;", f"DROP TABLE IF EXISTS {quoted};"]
    lines += [f"DROP FUNCTION IF EXISTS {identity};" for identity in manifest.database.functions]
    lines += [f"DROP TYPE IF EXISTS {name};" for name in manifest.database.enum_types]
    return "\n".join(lines) + "\n"


def _qualified(name: str) -> str:
    schema, _, table = name.partition(".")
    return ".".join('"' + part.replace('"', '""') + '"' for part in (schema, table))


def _server_settings() -> set[bytes]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_settings")
        return {row[0].encode() for row in cursor.fetchall()}


def _pump(source: IO[bytes], sink: IO[bytes], known_settings: set[bytes]) -> None:
    """Copy pg_restore's SQL to psql, leaving out header SET lines for parameters
    this server does not have; after the header, plain 1 MiB chunks."""
    for _ in range(_HEADER_LINES):
        line = source.readline()
        if not line:
            return
        match = _SET_LINE.match(line)
        if match and match[1] not in known_settings:
            continue
        sink.write(line)
    while chunk := source.read(CHUNK_SIZE):
        sink.write(chunk)


def _tail(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", "replace").strip()[-1500:] or "(nothing)"


# --------------------------------------------------------------------- checks
def compare_counts(manifest: Manifest) -> list[str]:
    mismatches = []
    with dump.connect(autocommit=True) as conn:
        for qualified, expected in sorted(manifest.database.tables.items()):
            schema, _, name = qualified.partition(".")
            actual = dump.count_rows(conn, [dump.Table(schema, name)])[qualified]
            if actual != expected:
                mismatches.append(f"{qualified}: {actual} rows, the manifest says {expected}")
    return mismatches


def check_live_files(report: RestoreReport) -> None:
    """Every live row's file is there with the recorded checksum."""
    live_files = MediaFile.objects.filter(deleted_at__isnull=True).values_list(
        "relative_path", "storage_path", "checksum"
    )
    live_sheets = ContactSheet.objects.filter(
        Q(metadata__isnull=True) | ~Q(metadata__has_key="deleted_at")
    ).values_list("relative_path", "storage_path", "checksum")
    for rows in (live_files, live_sheets):
        for relative, absolute, checksum in rows.order_by().iterator(chunk_size=2000):
            report.live_rows_checked += 1
            problem = _file_problem(relative, absolute, checksum)
            if problem:
                report.file_problem_count += 1
                if len(report.file_problems) < MAX_LISTED:
                    report.file_problems.append(problem)


def _file_problem(relative: str | None, absolute: str | None, checksum: str | None) -> str | None:
    label = relative or absolute
    try:
        if is_object_row(absolute):
            _size, sha256 = get_backend().sha256_of(object_key_of_row(relative, absolute))
        else:
            path = path_of_record(relative, absolute)
            if not path.is_file():
                return f"missing: {label}"
            _size, sha256 = hash_file(path)
    except FileNotFoundError:
        return f"missing: {label}"
    except (UnsafePathError, OSError) as exc:
        return f"unusable: {label} ({exc})"
    if checksum and checksum.strip().lower() != sha256:
        return f"checksum differs: {label}"
    return None


def forget_cached_answers() -> None:
    """Cached answers describe the database that was replaced: every app that
    caches something forgets it (analysis: its cache epoch and token lookups)."""
    database_restored.send_robust(sender=None)


def record_restore(report: RestoreReport) -> None:
    """The restore as a ``backup_runs`` row (audited as ``system:restore``), and the
    restored set's own row, dumped while it was running, marked finished."""
    manifest = report.manifest
    completed = datetime.fromisoformat(manifest.completed_at)
    with acting_as(RESTORE_ACTOR):
        made = BackupRun.objects.filter(pk=manifest.run_id, status=RunStatus.RUNNING).first()
        if made is not None:
            made.status = RunStatus.SUCCEEDED
            made.finished_at = completed
            made.duration_seconds = manifest.duration_seconds
            made.file_count = manifest.storage.file_count
            made.total_bytes = manifest.storage.total_bytes + manifest.database.dump.size
            made.save()
        BackupRun.objects.create(
            kind=RunKind.RESTORE,
            status=RunStatus.SUCCEEDED if report.ok else RunStatus.FAILED,
            set_name=manifest.name,
            location=str(report.set_dir),
            started_at=report.started_at,
            finished_at=timezone.now(),
            duration_seconds=report.duration_seconds,
            file_count=report.files.count,
            total_bytes=report.files.bytes,
            error="; ".join(report.count_mismatches + report.file_problems)[:4000],
            details={
                "forced": report.forced,
                "tables": len(manifest.database.tables),
                "rows": sum(manifest.database.tables.values()),
                "live_rows_checked": report.live_rows_checked,
                "file_problems": report.file_problem_count,
                "count_mismatches": report.count_mismatches,
                "tools": f"{report.tools.origin} {report.tools.version}",
            },
        )
