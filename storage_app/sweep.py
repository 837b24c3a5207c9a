"""The folder side of cleanup: what the rows pass cannot see.

- In dated folders past retention (plus a day of grace), files that no live row
  knows are deleted and logged one by one as orphans (the disk and the index must
  not disagree silently; ``check_storage`` reports the younger ones).
- ``.tmp-*`` partial writes older than the temp retention are deleted.
- Empty request and date folders are removed, except today's and yesterday's,
  where a writer may be creating a folder right now.
- ``temp/`` entries whose newest file is older than the temp retention go.
Nothing here follows a symlink.
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import UTC, date, timedelta
from pathlib import Path

from django.conf import settings

from storage_app import sweep_objects
from storage_app.layout import (
    TEMPORARY_PREFIX,
    Category,
    parse_date_folder,
    retention_for,
    storage_root,
)
from storage_app.locations import object_store
from storage_app.records import indexed_paths
from storage_app.report import CategoryCounts, CleanupReport

logger = logging.getLogger(__name__)

# Folders of today and yesterday (UTC) are never treated as settled.
GRACE = timedelta(days=1)


def sweep_dated_category(report: CleanupReport, category: Category) -> None:
    """Sweep one dated category where stored media lives: the bucket by key prefix
    on the object store, the root's folders otherwise."""
    store = object_store()
    if store is not None:
        sweep_objects.sweep_dated_objects(report, category, store, grace=GRACE)
        return
    base = storage_root() / category.value
    if base.is_symlink() or not base.is_dir():
        return
    counts = report.counts(category.value)
    retention = retention_for(category)
    today = report.now.astimezone(UTC).date()
    for date_entry in sorted(os.scandir(base), key=lambda entry: entry.name):
        day = parse_date_folder(date_entry.name)
        if day is None or not date_entry.is_dir(follow_symlinks=False):
            continue
        past_retention = retention is not None and day + retention + GRACE < today
        settled = day < today - GRACE
        for request_entry in sorted(os.scandir(date_entry.path), key=lambda entry: entry.name):
            if not request_entry.is_dir(follow_symlinks=False):
                continue
            folder = Path(request_entry.path)
            try:
                _sweep_request_folder(report, counts, category, day, folder, past_retention)
            except OSError:
                counts.errors += 1
                logger.exception("could not sweep a folder", extra={"path": str(folder)})
            if settled:
                _remove_if_empty(report, counts, folder)
        if settled:
            _remove_if_empty(report, counts, Path(date_entry.path))


def sweep_temp(report: CleanupReport) -> None:
    base = storage_root() / Category.TEMP.value
    if base.is_symlink() or not base.is_dir():
        return
    counts = report.counts(Category.TEMP.value)
    cutoff = (report.now - timedelta(hours=settings.STORAGE_RETENTION_TEMP_HOURS)).timestamp()
    for entry in sorted(os.scandir(base), key=lambda entry: entry.name):
        path = Path(entry.path)
        try:
            newest, files, folders, size = _tree_facts(path)
            if newest > cutoff:
                continue
            if not report.dry_run:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(path)  # removes symlinks inside, never follows them
                else:
                    path.unlink()
        except OSError:
            counts.errors += 1
            logger.exception("could not remove a temp entry", extra={"path": str(path)})
            continue
        counts.files_deleted += files
        counts.folders_removed += folders
        counts.bytes_freed += size
        logger.info(
            "expired temp entry removed",
            extra={"path": f"temp/{entry.name}", "dry_run": report.dry_run},
        )


def _sweep_request_folder(
    report: CleanupReport,
    counts: CategoryCounts,
    category: Category,
    day: date,
    folder: Path,
    past_retention: bool,
) -> None:
    files = [e for e in os.scandir(folder) if not e.is_dir(follow_symlinks=False)]
    if not files:
        return
    partial_cutoff = (
        report.now - timedelta(hours=settings.STORAGE_RETENTION_TEMP_HOURS)
    ).timestamp()
    remaining = []
    for entry in files:
        if entry.name.startswith(TEMPORARY_PREFIX):
            stat = entry.stat(follow_symlinks=False)
            if stat.st_mtime <= partial_cutoff:
                _delete(report, Path(entry.path), stat.st_size)
                counts.partials_deleted += 1
                counts.bytes_freed += stat.st_size
        else:
            remaining.append(entry)
    if not past_retention or not remaining:
        return
    prefix = f"{category.value}/{day.isoformat()}/{folder.name}/"
    known = indexed_paths(prefix)
    for entry in remaining:
        relative = prefix + entry.name
        if relative in known:
            continue
        size = entry.stat(follow_symlinks=False).st_size
        _delete(report, Path(entry.path), size)
        counts.orphans_deleted += 1
        counts.bytes_freed += size
        logger.warning(
            "deleted a file past retention that no row knows",
            extra={"relative_path": relative, "size_bytes": size, "dry_run": report.dry_run},
        )


def _delete(report: CleanupReport, path: Path, size: int) -> None:
    if not report.dry_run:
        path.unlink(missing_ok=True)


def _remove_if_empty(report: CleanupReport, counts: CategoryCounts, folder: Path) -> None:
    if report.dry_run:
        with os.scandir(folder) as entries:
            if not any(entries):
                counts.folders_removed += 1
        return
    try:
        os.rmdir(folder)  # refuses a non-empty folder: no race with a writer
    except OSError:
        return
    counts.folders_removed += 1


def _tree_facts(path: Path) -> tuple[float, int, int, int]:
    """Newest mtime, file count, folder count and bytes of a temp entry."""
    stat = path.lstat()
    if not path.is_dir() or path.is_symlink():
        return stat.st_mtime, 1, 0, stat.st_size
    newest, files, folders, size = stat.st_mtime, 0, 1, 0
    for current, dirnames, filenames in os.walk(path, followlinks=False):
        for name in dirnames + filenames:
            entry = os.lstat(os.path.join(current, name))
            newest = max(newest, entry.st_mtime)
            if name in filenames:
                files += 1
                size += entry.st_size
            else:
                folders += 1
    return newest, files, folders, size
