"""The object store's side of the sweep (``sweep.py`` calls it on S3): objects of
the dated categories that no live row knows, found by key prefix.

An object under ``{category}/{date}/{request_id}/`` whose date is past retention
(plus the grace) and which no live row indexes is deleted and logged one by one
as an orphan, as on disk, unless it was written within the grace (a retried task
may be rewriting an old key whose row has not committed yet). A bucket has no
partial writes (an unfinished multipart upload is not an object) and no empty
folders, so nothing else is swept here; ``temp/`` is never in the bucket.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from storage_app.backends import ObjectInfo, StorageBackend
from storage_app.layout import Category, parse_date_folder, retention_for
from storage_app.records import indexed_paths
from storage_app.report import CleanupReport

logger = logging.getLogger(__name__)


def sweep_dated_objects(
    report: CleanupReport, category: Category, store: StorageBackend, *, grace: timedelta
) -> None:
    retention = retention_for(category)
    if retention is None:
        return  # kept forever: no object is too old to be kept
    counts = report.counts(category.value)
    settled_before = report.now.astimezone(UTC).date() - retention - grace
    written_before = report.now - grace
    try:
        for folder, day, objects in _request_folders(store, category):
            if day >= settled_before:
                continue
            known = indexed_paths(folder)
            for info in objects:
                if info.key not in known and _settled(info, written_before):
                    _delete_orphan(report, store, info)
    except Exception:  # a store that fails mid-listing: count it, the run goes on
        counts.errors += 1
        logger.exception("could not sweep the object store", extra={"category": category.value})


def _request_folders(
    store: StorageBackend, category: Category
) -> Iterator[tuple[str, date, list[ObjectInfo]]]:
    """``(folder prefix, its date, its objects)`` for every request folder of the
    layout; a listing is in key order, so each folder's keys come together.
    Keys outside ``{category}/{date}/{id}/{name}`` are left to the sanity check."""
    listing = store.list(f"{category.value}/")
    for folder, group in itertools.groupby(listing, key=_folder_of):
        if folder is None:
            continue
        day = parse_date_folder(folder.split("/")[1])
        if day is not None:
            yield folder, day, list(group)


def _folder_of(info: ObjectInfo) -> str | None:
    parts = info.key.split("/")
    return "/".join(parts[:3]) + "/" if len(parts) == 4 else None


def _settled(info: ObjectInfo, written_before: datetime) -> bool:
    return info.modified is None or info.modified <= written_before


def _delete_orphan(report: CleanupReport, store: StorageBackend, info: ObjectInfo) -> None:
    if not report.dry_run:
        store.delete(info.key)
    counts = report.counts(info.key.split("/", 1)[0])
    counts.orphans_deleted += 1
    counts.bytes_freed += info.size
    logger.warning(
        "deleted an object past retention that no row knows",
        extra={"relative_path": info.key, "size_bytes": info.size, "dry_run": report.dry_run},
    )
