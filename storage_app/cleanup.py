"""Retention cleanup: the one code path behind the beat task and
``manage.py cleanup_storage``.

Under the storage lock (``locking.py``) it:
1. deletes the files of expired ``media_files`` rows and sets their ``deleted_at``
   (rows are kept), in keyset-paginated batches so 100,000 expired rows never sit
   in memory together;
2. does the same for ``contact_sheets`` (expiry = created_at + contact-sheets
   retention; the deletion is recorded in the row's metadata);
3. sweeps the dated folders (``sweep.py``): row-less files in folders past
   retention, stale partial writes, empty folders; and ``temp/`` entries past 24 h.
   On the object store the dated categories are swept by key prefix instead
   (``sweep_objects.py``); ``temp/`` stays on local disk and is swept as ever.
A row's bytes are deleted where the row says they are (``locations.py``): an
``s3://`` row's object through the backend, any other row's file on disk.
Every deletion is counted per category, logged, and printed by the command.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from audit.recording import audited_update
from storage_app import sweep
from storage_app.backends import get_backend
from storage_app.disk import measure_disk
from storage_app.layout import (
    Category,
    UnsafePathError,
    category_of,
    path_of_record,
    retention_for,
    storage_root,
)
from storage_app.locations import is_object_row, object_info, object_key_of_row
from storage_app.locking import storage_lock
from storage_app.models import ContactSheet, MediaFile
from storage_app.report import CleanupReport
from storage_app.writer import delete_file

logger = logging.getLogger(__name__)

UNKNOWN_CATEGORY = "unknown"


def run_cleanup(
    *,
    actor: str,
    categories: Iterable[Category | str] | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    batch_size: int | None = None,
) -> CleanupReport:
    """Run one cleanup under the lock (``StorageBusyError`` if another run holds it).

    ``categories`` limits the run (default: all); ``dry_run`` counts without
    deleting or marking anything.
    """
    chosen = [Category(c) for c in categories] if categories else list(Category)
    now = now or timezone.now()
    batch_size = batch_size or settings.STORAGE_CLEANUP_BATCH_SIZE
    report = CleanupReport(dry_run=dry_run, actor=actor, now=now)

    with storage_lock("cleanup"):
        logger.info(
            "storage cleanup started",
            extra={"actor": actor, "dry_run": dry_run, "categories": [c.value for c in chosen]},
        )
        dated = [c for c in chosen if c is not Category.TEMP]
        if dated:
            # A full run also sees rows outside every category (reported as errors).
            where = _category_filter(dated) if categories else Q()
            _expire_media_files(report, where, batch_size)
        if Category.CONTACT_SHEETS in chosen:
            _expire_contact_sheets(report, batch_size)
        for category in dated:
            sweep.sweep_dated_category(report, category)
        if Category.TEMP in chosen:
            sweep.sweep_temp(report)
    report.disk_used_percent = round(measure_disk().used_percent, 1)
    total = report.total
    logger.info(
        "storage cleanup finished",
        extra={
            "actor": actor,
            "dry_run": dry_run,
            "files_deleted": total.files_deleted + total.orphans_deleted,
            "bytes_freed": total.bytes_freed,
            "rows_marked": total.rows_marked,
            "errors": total.errors,
            "report": report.as_dict(),
        },
    )
    return report


def _category_filter(categories: list[Category]) -> Q:
    root = str(storage_root())
    query = Q()
    for category in categories:
        query |= Q(relative_path__startswith=f"{category.value}/")
        query |= Q(relative_path__isnull=True, storage_path__startswith=f"{root}/{category.value}/")
    return query


def _batches(queryset: QuerySet, order_field: str, fields: list[str], size: int) -> Iterator[list]:
    """Keyset pagination on (order_field, id): constant memory, and correct while
    the rows of earlier batches are being updated."""
    queryset = queryset.order_by(order_field, "id")
    last = None
    while True:
        page = queryset
        if last is not None:
            page = page.filter(
                Q(**{f"{order_field}__gt": last[0]})
                | Q(**{order_field: last[0], "id__gt": last[1]})
            )
        rows = list(page.values(order_field, "id", *fields)[:size])
        if not rows:
            return
        last = (rows[-1][order_field], rows[-1]["id"])
        yield rows


def _delete_row_file(report: CleanupReport, row: dict, category: str) -> bool:
    """Delete (or in a dry run, measure) one row's file or object. False if the
    row's location is unsafe, in which case the row is left alone and counted as
    an error."""
    counts = report.counts(category)
    try:
        freed = _remove_row_bytes(row, report.dry_run)
    except UnsafePathError as exc:
        counts.errors += 1
        logger.error(
            "expired row has an unsafe path; left alone",
            extra={"row": str(row["id"]), "error": str(exc)},
        )
        return False
    if freed is None:
        counts.files_missing += 1
        logger.warning(
            "expired file was already missing",
            extra={"path": row.get("relative_path") or row.get("storage_path")},
        )
    else:
        counts.files_deleted += 1
        counts.bytes_freed += freed
    return True


def _remove_row_bytes(row: dict, dry_run: bool) -> int | None:
    """Bytes freed by deleting a row's file or object (a dry run only measures);
    None if it was already gone."""
    relative, absolute = row.get("relative_path"), row.get("storage_path")
    if is_object_row(absolute):
        key = object_key_of_row(relative, absolute)
        store = get_backend()
        info = object_info(store, key)
        if info is not None and not dry_run:
            store.delete(key)
        return info.size if info else None
    path = path_of_record(relative, absolute)
    if not dry_run:
        return delete_file(path)
    try:
        return path.lstat().st_size
    except FileNotFoundError:
        return None


def _expire_media_files(report: CleanupReport, where: Q, size: int) -> None:
    expired = MediaFile.objects.filter(where, deleted_at__isnull=True, expires_at__lte=report.now)
    fields = ["relative_path", "storage_path"]
    for rows in _batches(expired, "expires_at", fields, size):
        done: dict[str, list] = {}
        for row in rows:
            category = _row_category(row)
            if _delete_row_file(report, row, category):
                done.setdefault(category, []).append(row["id"])
        for category, ids in done.items():
            if not report.dry_run:
                marked = audited_update(
                    MediaFile.objects.filter(id__in=ids, deleted_at__isnull=True),
                    actor=report.actor,
                    deleted_at=report.now,
                )
            else:
                marked = len(ids)
            report.counts(category).rows_marked += marked


def _expire_contact_sheets(report: CleanupReport, size: int) -> None:
    retention = retention_for(Category.CONTACT_SHEETS)
    if retention is None:
        return
    expired = ContactSheet.objects.filter(created_at__lte=report.now - retention).filter(
        Q(metadata__isnull=True) | ~Q(metadata__has_key="deleted_at")
    )
    # The table has no deleted_at column: the deletion is recorded in metadata.
    mark = json.dumps({"deleted_at": report.now.isoformat(), "deleted_by": report.actor})
    fields = ["relative_path", "storage_path"]
    counts = report.counts(Category.CONTACT_SHEETS.value)
    for rows in _batches(expired, "created_at", fields, size):
        category = Category.CONTACT_SHEETS.value
        ids = [row["id"] for row in rows if _delete_row_file(report, row, category)]
        if not ids:
            continue
        if report.dry_run:
            counts.rows_marked += len(ids)
            continue
        with transaction.atomic():
            counts.rows_marked += audited_update(
                ContactSheet.objects.filter(id__in=ids),
                actor=report.actor,
                metadata=RawSQL("COALESCE(metadata, '{}'::jsonb) || %s::jsonb", (mark,)),
            )


def _row_category(row: dict) -> str:
    relative = row.get("relative_path")
    if not relative and row.get("storage_path"):
        prefix = f"{storage_root()}/"
        if row["storage_path"].startswith(prefix):
            relative = row["storage_path"][len(prefix) :]
    category = category_of(relative) if relative else None
    return category.value if category else UNKNOWN_CATEGORY
