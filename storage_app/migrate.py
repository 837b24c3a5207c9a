"""``migrate_storage --to s3``: an existing filesystem store copied into the bucket.

For every live ``media_files`` row and contact sheet still on disk, under the
storage lock (so cleanup cannot delete a file mid-copy):

1. the file under ``STORAGE_ROOT`` (whatever ``STORAGE_BACKEND`` says: it is the
   source) is streamed to the bucket under the same key (``save_stream``), its
   size and SHA-256 computed on the way;
2. both are compared with the row (and, with ``read_back``, the object is read
   back from the bucket and hashed again); a mismatch leaves the row on disk and
   removes the object just written;
3. the verified rows of a batch are switched over in one transaction:
   ``storage_path`` becomes the object's ``s3://`` URI, ``relative_path`` its key;
4. with ``delete_local``, their local files are removed once that committed.

Resumable: rows already on the bucket are skipped, so a run killed at any point
is simply started again (an object copied but not yet switched is copied again;
with ``delete_local`` a local copy left behind by a switched row goes then too,
once its object is found in the bucket with the row's size). A dry run reads and
changes nothing, and counts what would be copied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Model, Q, QuerySet

from audit.recording import audited_update
from media_analysis.object_store_settings import BACKEND_S3
from storage_app.backends import StorageBackend, get_backend
from storage_app.backends.filesystem import FilesystemBackend
from storage_app.layout import Category, UnsafePathError, category_of, relative_to_root
from storage_app.locations import is_object_row, object_info
from storage_app.locking import storage_lock
from storage_app.models import ContactSheet, MediaFile
from storage_app.writer import delete_file

logger = logging.getLogger(__name__)

MIGRATE_ACTOR = "system:migrate-storage"
DEFAULT_BATCH_SIZE = 100
MAX_EXAMPLES = 50


class MigrationRefused(RuntimeError):
    """The target is not configured or not reachable: nothing was done."""


@dataclass
class MigrationReport:
    dry_run: bool
    rows_seen: int = 0
    already_on_target: int = 0
    copied: int = 0  # copied, verified and switched (a dry run: would be)
    bytes_copied: int = 0
    missing: int = 0  # the row's file is not on disk
    mismatched: int = 0  # size or SHA-256 differs from the row
    unsafe: int = 0  # a row outside the layout or the root
    failed: int = 0  # the store refused or failed the upload
    local_deleted: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def problem_count(self) -> int:
        return self.missing + self.mismatched + self.unsafe + self.failed

    def problem(self, text: str) -> None:
        logger.warning("migrate_storage: %s", text)
        if len(self.problems) < MAX_EXAMPLES:
            self.problems.append(text)

    def as_dict(self) -> dict:
        return asdict(self) | {"problem_count": self.problem_count}


@dataclass(frozen=True)
class _Row:
    model: type[Model]
    id: object
    key: str
    storage_path: str
    size: int | None
    checksum: str | None
    switched_earlier: bool = False  # found on the bucket already (a previous run)


def target_store() -> StorageBackend:
    """The configured object store, or ``MigrationRefused`` saying what is missing."""
    if settings.STORAGE_BACKEND != BACKEND_S3 or settings.OBJECT_STORE is None:
        raise MigrationRefused(
            "the target is not configured: set MEDIA_ANALYSIS_STORAGE_BACKEND=s3 with "
            "AWS_STORAGE_BUCKET_NAME, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and "
            "AWS_S3_ENDPOINT_URL for a store other than AWS); STORAGE_ROOT stays the source"
        )
    store = get_backend()
    try:
        next(iter(store.list(f"{Category.UPLOADS.value}/")), None)
    except Exception as exc:  # any failure to list: credentials, bucket, network
        raise MigrationRefused(
            f"the bucket {settings.OBJECT_STORE.bucket!r} cannot be listed "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return store


def migrate_to_object_store(
    *,
    dry_run: bool = False,
    delete_local: bool = False,
    read_back: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    say: Callable[[str], None] = lambda text: None,
) -> MigrationReport:
    """Copy, verify and switch every live row still on disk (see the module)."""
    store = target_store()
    source = FilesystemBackend()
    report = MigrationReport(dry_run=dry_run)
    with storage_lock("migrate"):
        for model in (MediaFile, ContactSheet):
            for batch in _batches(_live(model), batch_size):
                switched = _migrate_batch(report, store, source, batch, dry_run, read_back)
                if delete_local and not dry_run:
                    _delete_local(report, source, switched)
                say(_progress(report))
    return report


def _live(model: type[Model]) -> QuerySet:
    if model is MediaFile:
        return MediaFile.objects.filter(deleted_at__isnull=True)
    return ContactSheet.objects.filter(
        Q(metadata__isnull=True) | ~Q(metadata__has_key="deleted_at")
    )


def _batches(queryset: QuerySet, size: int) -> Iterator[list[dict]]:
    """Keyset pages on id: rows switched or skipped are never seen twice."""
    size_field = "size_bytes" if queryset.model is MediaFile else "file_size_bytes"
    fields = ("id", "relative_path", "storage_path", size_field, "checksum")
    last = None
    while True:
        page = queryset.order_by("id")
        if last is not None:
            page = page.filter(id__gt=last)
        rows = list(page.values(*fields)[:size])
        if not rows:
            return
        last = rows[-1]["id"]
        for row in rows:
            row["size"] = row.pop(size_field)
            row["model"] = queryset.model
        yield rows


def _migrate_batch(
    report: MigrationReport,
    store: StorageBackend,
    source: FilesystemBackend,
    rows: list[dict],
    dry_run: bool,
    read_back: bool,
) -> list[_Row]:
    """Copy and verify a batch, then switch the verified rows in one transaction.
    Returns the rows switched, plus rows found already switched (for delete_local)."""
    verified: list[_Row] = []
    done: list[_Row] = []
    for data in rows:
        report.rows_seen += 1
        if is_object_row(data["storage_path"]):
            report.already_on_target += 1
            done.append(_already_switched(data))
            continue
        row = _source_row(report, source, data)
        if row is not None and _copy(report, store, source, row, dry_run, read_back):
            verified.append(row)
    if verified and not dry_run:
        with transaction.atomic():
            verified = [row for row in verified if _switch(store, row)]
    return [*done, *verified]


def _already_switched(data: dict) -> _Row:
    key = data["relative_path"] or ""
    return _Row(data["model"], data["id"], key, data["storage_path"], data["size"], None, True)


def _source_row(report: MigrationReport, source: FilesystemBackend, data: dict) -> _Row | None:
    """The row with its key: its relative path, else its path under the root."""
    try:
        key = data["relative_path"] or relative_to_root(data["storage_path"])
        if category_of(key) in (None, Category.TEMP):
            raise UnsafePathError(f"{key!r} is not in a stored category")
        source.path_for(key)
    except UnsafePathError as exc:
        report.unsafe += 1
        report.problem(f"unsafe row {data['id']}: {exc}")
        return None
    return _Row(
        data["model"], data["id"], key, data["storage_path"], data["size"], data["checksum"]
    )


def _copy(
    report: MigrationReport,
    store: StorageBackend,
    source: FilesystemBackend,
    row: _Row,
    dry_run: bool,
    read_back: bool,
) -> bool:
    path = source.path_for(row.key)
    if path.is_symlink() or not path.is_file():
        report.missing += 1
        report.problem(f"missing on disk: {row.key} (row {row.id})")
        return False
    if dry_run:
        report.copied += 1
        report.bytes_copied += path.stat().st_size
        return True
    try:
        stored = store.save_stream(row.key, path)
        facts = store.sha256_of(row.key) if read_back else _listed(store, row.key, stored.sha256)
    except Exception as exc:  # one object failing must not stop the others
        report.failed += 1
        report.problem(f"could not copy {row.key}: {type(exc).__name__}: {exc}")
        return False
    expected = (row.size, (row.checksum or "").strip().lower() or None)
    if not _matches(expected, (stored.size, stored.sha256)) or not _matches(expected, facts):
        report.mismatched += 1
        report.problem(
            f"checksum or size differs from the row: {row.key} (row {row.id}: "
            f"{row.size} bytes, {row.checksum}; copied {stored.size} bytes, {stored.sha256})"
        )
        store.delete(row.key)  # the row stays on disk: no object of ours without it
        return False
    report.copied += 1
    report.bytes_copied += stored.size
    return True


def _listed(store: StorageBackend, key: str, sha256: str) -> tuple[int | None, str]:
    """The object's size as the bucket lists it (the hash is the one computed while
    uploading): that the whole object landed, without reading it back."""
    info = object_info(store, key)
    return (info.size if info else None, sha256)


def _matches(expected: tuple[int | None, str | None], actual: tuple[int | None, str]) -> bool:
    size, checksum = expected
    return (size is None or size == actual[0]) and (checksum is None or checksum == actual[1])


def _switch(store: StorageBackend, row: _Row) -> bool:
    """Point the row at its object; only if it still points where it did (a row
    changed meanwhile is left as it is, and its local file kept)."""
    return (
        audited_update(
            row.model.objects.filter(pk=row.id, storage_path=row.storage_path),
            actor=MIGRATE_ACTOR,
            storage_path=store.uri_for(row.key),
            relative_path=row.key,
        )
        == 1
    )


def _delete_local(report: MigrationReport, source: FilesystemBackend, rows: list[_Row]) -> None:
    """Remove the local copies of switched rows: now (verified this run), or found
    already switched (a killed run's leftovers), once the bucket lists the object
    with the row's size."""
    store = get_backend()
    for row in rows:
        try:
            path: Path = source.path_for(row.key)
        except UnsafePathError:
            continue
        if not path.is_file() or path.is_symlink():
            continue
        if row.switched_earlier:  # not verified by this run: check the object first
            info = object_info(store, row.key)
            if info is None or (row.size is not None and info.size != row.size):
                continue
        if delete_file(path) is not None:
            report.local_deleted += 1


def _progress(report: MigrationReport) -> str:
    verb = "would copy" if report.dry_run else "copied"
    return (
        f"{report.rows_seen} rows seen: {report.already_on_target} already in the bucket, "
        f"{verb} {report.copied} ({report.bytes_copied} bytes), {report.problem_count} problems"
    )
