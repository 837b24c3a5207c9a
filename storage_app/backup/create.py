"""``create_backup``: one set, complete or not at all.

Order matters for consistency while the service runs:

1. take the storage lock (waiting for a running cleanup to finish), so no file
   the snapshot references can be deleted until it has been copied;
2. open the snapshot: row counts, migrations, prelude, the live file rows and
   ``pg_dump --snapshot`` all see one instant;
3. copy the stored files (hard links where unchanged), then release the lock;
   on the object store, the bucket's objects (``objects.py``).
   A file written after the snapshot is copied too: a harmless extra;
4. compare the snapshot's live rows with the copied files, write the manifest,
   flush everything to disk and rename the folder into place.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from storage_app.backup import dump
from storage_app.backup.files import (
    CopyStats,
    compare_rows,
    copy_storage,
    hash_file,
    storage_locked,
)
from storage_app.backup.manifest import (
    DUMP_PATH,
    MANIFEST_NAME,
    PRELUDE_PATH,
    DatabasePart,
    EntryLog,
    FileEntry,
    Manifest,
    StoragePart,
    write_manifest,
)
from storage_app.backup.objects import copy_objects, store_location
from storage_app.backup.pgtools import ServerInfo, tools_for_server
from storage_app.backup.record import BackupRun, RunKind, mark_interrupted, recorded
from storage_app.backup.sets import (
    FOLDER_MODE,
    SetPlace,
    folder_lock,
    place_for,
    previous_set,
    prune,
    remove_partials,
)
from storage_app.layout import storage_root
from storage_app.locations import object_store

logger = logging.getLogger(__name__)

LIVE_ROWS_NAME = ".live-rows.jsonl"
ENTRIES_NAME = ".entries.jsonl"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Manifest
    new_bytes: int  # disk the set took (not hard-linked)
    vanished: int
    pruned: list[str]


def create_backup(
    *, output: Path | None = None, say: Callable[[str], None] = logger.info
) -> BackupResult:
    """Write one set to ``output``, or to a new timestamped folder in ``BACKUP_DIR``
    (then older scheduled sets beyond ``BACKUP_KEEP`` are pruned). Recorded as a
    ``backup_runs`` row, so in the audit log as ``system:backup``."""
    backup_dir = Path(settings.BACKUP_DIR) if settings.BACKUP_DIR else None
    place = place_for(output, backup_dir)
    with (
        folder_lock(place.parent),
        recorded(RunKind.BACKUP, set_name=place.name, location=str(place.final)) as run,
    ):
        if mark_interrupted(f"{place.parent}/", keep=run):
            say("marked an earlier backup that never finished as failed")
        for name in remove_partials(place.parent):
            say(f"removed {name}, left by an interrupted backup")
        result = _make_set(place, run, say)
        run.file_count = result.manifest.storage.file_count
        run.total_bytes = result.manifest.storage.total_bytes + _database_bytes(result.manifest)
        run.new_bytes = result.new_bytes
        run.details = _details(result)
        pruned = prune(place.parent, settings.BACKUP_KEEP) if output is None else []
        if pruned:
            run.details["pruned"] = pruned
            say(f"retention (BACKUP_KEEP={settings.BACKUP_KEEP}): removed {', '.join(pruned)}")
    return BackupResult(result.path, result.manifest, result.new_bytes, result.vanished, pruned)


def _make_set(place: SetPlace, run: BackupRun, say: Callable[[str], None]) -> BackupResult:
    started = time.monotonic()
    started_at = datetime.now(UTC)
    previous = previous_set(place.parent)
    partial = place.partial
    partial.mkdir(mode=FOLDER_MODE)
    try:
        (partial / "database").mkdir(mode=FOLDER_MODE)
        facts, pg_dump_version, stats, entries = _dump_and_copy(partial, previous, say)
        consistency = compare_rows(dump.iter_live_rows(partial / LIVE_ROWS_NAME), entries)
        manifest = Manifest(
            name=place.name,
            run_id=str(run.pk),
            started_at=started_at.isoformat(),
            completed_at=datetime.now(UTC).isoformat(),
            duration_seconds=round(time.monotonic() - started, 3),
            project_version=project_version(),
            migrations=facts.migrations,
            database=DatabasePart(
                dump=_entry(partial, DUMP_PATH),
                prelude=_entry(partial, PRELUDE_PATH),
                server_version=facts.server_version,
                pg_dump_version=pg_dump_version,
                schema=facts.schema,
                tables=facts.tables,
                enum_types=facts.enum_types,
                functions=facts.functions,
            ),
            storage=StoragePart(
                file_count=stats.file_count,
                total_bytes=stats.total_bytes,
                linked_count=stats.linked_count,
                linked_bytes=stats.linked_bytes,
                previous_set=previous.name if previous else None,
                storage_root=storage_location(),
            ),
            consistency=consistency,
        )
        write_manifest(partial, manifest, entries)
        for leftover in (LIVE_ROWS_NAME, ENTRIES_NAME):
            (partial / leftover).unlink()
        # Everything on disk before the name says "complete".
        os.sync()
        partial.rename(place.final)
        _fsync_folder(place.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    manifest_bytes = (place.final / MANIFEST_NAME).stat().st_size
    new_bytes = stats.copied_bytes + _database_bytes(manifest) + manifest_bytes
    if not consistency.ok:
        say(
            f"warning: {consistency.missing} live rows without their file and "
            f"{consistency.mismatched} with another checksum on disk: {consistency.examples}"
        )
    return BackupResult(place.final, manifest, new_bytes, stats.vanished, [])


def _dump_and_copy(
    partial: Path, previous: Path | None, say: Callable[[str], None]
) -> tuple[dump.SnapshotFacts, str, CopyStats, EntryLog]:
    with dump.connect(autocommit=True) as conn:
        version, number = conn.execute(
            "SELECT current_setting('server_version'), current_setting('server_version_num')"
        ).fetchone()
        server = ServerInfo(version=version, major=int(number) // 10000)
        tools = tools_for_server(server)
        with storage_locked(settings.BACKUP_LOCK_WAIT_SECONDS, say):
            with dump.snapshot(conn) as snapshot_id:
                tables = dump.existing_tables(conn, dump.project_table_names())
                counts = dump.count_rows(conn, tables)
                migrations = dump.applied_migrations(conn)
                prelude_sql, types, functions = dump.prelude(conn, tables)
                live = dump.write_live_rows(conn, partial / LIVE_ROWS_NAME)
                say(f"snapshot taken: {len(tables)} tables, {sum(counts.values())} rows")
                dump.run_pg_dump(tools, snapshot_id, tables, partial / DUMP_PATH)
            say(f"database dumped with {tools.origin} pg_dump {tools.version}")
            (partial / PRELUDE_PATH).write_text(prelude_sql, encoding="utf-8")
            entries = EntryLog(partial / ENTRIES_NAME)
            stats = _copy_store(partial, previous, entries)
            entries.close()
    say(
        f"files: {stats.file_count} ({stats.total_bytes} bytes), {stats.linked_count} "
        f"hard-linked from {previous.name if previous else 'no previous set'}"
    )
    schemas = sorted({t.schema for t in tables})
    facts = dump.SnapshotFacts(
        server_version=server.version,
        tables=counts,
        migrations=migrations,
        enum_types=types,
        functions=functions,
        schema=schemas[0] if len(schemas) == 1 else ",".join(schemas),
        live_rows=live,
    )
    return facts, tools.version, stats, entries


def _copy_store(partial: Path, previous: Path | None, entries: EntryLog) -> CopyStats:
    """The stored media into the set: the bucket's objects on the object store, the
    root's files otherwise (``temp/`` is never in a set)."""
    store = object_store()
    if store is not None:
        return copy_objects(store, partial, previous, entries)
    return copy_storage(storage_root(), partial, previous, entries)


def storage_location() -> str:
    """Where the stored media is: ``s3://bucket/prefix/``, or the storage root."""
    store = object_store()
    return store_location(store) if store is not None else str(storage_root())


def _entry(set_dir: Path, relative: str) -> FileEntry:
    size, sha256 = hash_file(set_dir / relative)
    return FileEntry(relative, size, sha256)


def _database_bytes(manifest: Manifest) -> int:
    return manifest.database.dump.size + manifest.database.prelude.size


def _details(result: BackupResult) -> dict:
    manifest = result.manifest
    return {
        "rows": sum(manifest.database.tables.values()),
        "tables": len(manifest.database.tables),
        "linked_count": manifest.storage.linked_count,
        "linked_bytes": manifest.storage.linked_bytes,
        "previous_set": manifest.storage.previous_set,
        "pg_dump_version": manifest.database.pg_dump_version,
        "server_version": manifest.database.server_version,
        "consistency": {
            "live_rows": manifest.consistency.live_rows,
            "missing": manifest.consistency.missing,
            "mismatched": manifest.consistency.mismatched,
        },
        "vanished": result.vanished,
    }


def project_version() -> str:
    try:
        with (Path(settings.BASE_DIR) / "pyproject.toml").open("rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
