"""Does the disk agree with the index? (``manage.py check_storage``, weekly from beat)

Both directions are checked, with full relative paths in the report:
- rows -> disk: every live ``media_files`` row and every contact sheet not marked
  deleted must have its file, of the recorded size and SHA-256;
- disk -> rows: every file in the dated folders must be known to a live row.
On the object store, an ``s3://`` row's object is looked up (and read back to
hash it) through the backend, and the dated categories are listed by key prefix
for orphans; a row still on disk (a store half-way through ``migrate_storage``)
is checked on disk.
  Files younger than the grace period are skipped: a write whose row has not yet
  committed is not an orphan. ``temp/`` and ``.tmp-*`` partial writes are not indexed.
The run takes the storage lock (``locking.py``) so it never races a cleanup.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from storage_app.backends import ObjectInfo, StorageBackend, get_backend
from storage_app.layout import (
    DATED_CATEGORIES,
    TEMPORARY_PREFIX,
    Category,
    UnsafePathError,
    parse_date_folder,
    path_of_record,
    storage_root,
)
from storage_app.locations import is_object_row, object_info, object_key_of_row, object_store
from storage_app.locking import storage_lock
from storage_app.models import ContactSheet, MediaFile
from storage_app.records import indexed_paths
from storage_app.writer import sha256_of_file

logger = logging.getLogger(__name__)

# Beyond this many entries per kind only the counts grow (the report stays printable).
MAX_LISTED = 10_000


@dataclass
class Problems:
    count: int = 0
    items: list[dict] = field(default_factory=list)

    def add(self, relative_path: str, **detail) -> None:
        self.count += 1
        if len(self.items) < MAX_LISTED:
            self.items.append({"relative_path": relative_path, **detail})


@dataclass
class SanityReport:
    rows_checked: int = 0
    files_checked: int = 0
    orphan_files: Problems = field(default_factory=Problems)
    missing_files: Problems = field(default_factory=Problems)
    checksum_mismatches: Problems = field(default_factory=Problems)
    size_mismatches: Problems = field(default_factory=Problems)
    unsafe_rows: Problems = field(default_factory=Problems)

    PROBLEM_KINDS = (
        "orphan_files",
        "missing_files",
        "checksum_mismatches",
        "size_mismatches",
        "unsafe_rows",
    )

    @property
    def problem_count(self) -> int:
        return sum(getattr(self, kind).count for kind in self.PROBLEM_KINDS)

    def as_dict(self) -> dict:
        return asdict(self) | {"problem_count": self.problem_count}


def run_sanity_check(
    *,
    categories: Iterable[Category | str] | None = None,
    verify_checksums: bool = True,
    grace: timedelta | None = None,
    now: datetime | None = None,
) -> SanityReport:
    """Compare the disk and the index (``StorageBusyError`` if cleanup is running)."""
    chosen = [Category(c) for c in categories] if categories else list(DATED_CATEGORIES)
    chosen = [c for c in chosen if c is not Category.TEMP]
    if grace is None:
        grace = timedelta(minutes=settings.STORAGE_CHECK_ORPHAN_GRACE_MINUTES)
    young_after = ((now or timezone.now()) - grace).timestamp()
    report = SanityReport()
    with storage_lock("check"):
        _check_rows(report, chosen, verify_checksums)
        for category in chosen:
            _check_disk(report, category, young_after)
    logger.log(
        logging.WARNING if report.problem_count else logging.INFO,
        "storage sanity check finished",
        extra={"report": report.as_dict()},
    )
    return report


def _rows(chosen: list[Category]) -> Iterator[tuple[str, dict]]:
    """(label, row) for every live indexed file in the chosen categories."""
    root = f"{storage_root()}/"
    where = Q()
    for category in chosen:
        where |= Q(relative_path__startswith=f"{category.value}/")
        where |= Q(relative_path__isnull=True, storage_path__startswith=f"{root}{category.value}/")
    media = MediaFile.objects.filter(where, deleted_at__isnull=True).order_by()
    for row in media.values(
        "id", "relative_path", "storage_path", "size_bytes", "checksum"
    ).iterator(chunk_size=2000):
        yield "media_files", row
    if Category.CONTACT_SHEETS in chosen:
        sheets = (
            ContactSheet.objects.filter(where)
            .filter(Q(metadata__isnull=True) | ~Q(metadata__has_key="deleted_at"))
            .order_by()
        )
        for row in sheets.values(
            "id", "relative_path", "storage_path", "file_size_bytes", "checksum"
        ).iterator(chunk_size=2000):
            row["size_bytes"] = row.pop("file_size_bytes")
            yield "contact_sheets", row


def _check_rows(report: SanityReport, chosen: list[Category], verify_checksums: bool) -> None:
    root = f"{storage_root()}/"
    for table, row in _rows(chosen):
        report.rows_checked += 1
        label = row["relative_path"] or (row["storage_path"] or "").removeprefix(root)
        ids = {"table": table, "row_id": str(row["id"])}
        try:
            if is_object_row(row["storage_path"]):
                found = _object_facts(row, verify_checksums)
            else:
                found = _file_facts(row, verify_checksums)
        except UnsafePathError as exc:
            report.unsafe_rows.add(label, **ids, error=str(exc))
            continue
        if found is None:
            report.missing_files.add(label, **ids)
            continue
        size, actual = found
        if row["size_bytes"] is not None and size != row["size_bytes"]:
            report.size_mismatches.add(label, **ids, expected=row["size_bytes"], actual=size)
        if actual is not None and actual != row["checksum"].strip().lower():
            report.checksum_mismatches.add(label, **ids, expected=row["checksum"], actual=actual)


def _file_facts(row: dict, verify_checksums: bool) -> tuple[int, str | None] | None:
    """Size and (when asked and recorded) SHA-256 of a row's file; None if missing."""
    path = path_of_record(row["relative_path"], row["storage_path"])
    if path.is_symlink() or not path.is_file():
        return None
    if verify_checksums and row["checksum"]:
        return sha256_of_file(path)
    return path.stat().st_size, None


def _object_facts(row: dict, verify_checksums: bool) -> tuple[int, str | None] | None:
    """The same for a row's object in the store, read back as a stream to hash it."""
    key = object_key_of_row(row["relative_path"], row["storage_path"])
    store = get_backend()
    if verify_checksums and row["checksum"]:
        try:
            return store.sha256_of(key)
        except FileNotFoundError:
            return None
    info = object_info(store, key)
    return (info.size, None) if info else None


def _check_disk(report: SanityReport, category: Category, young_after: float) -> None:
    store = object_store()
    if store is not None:
        _check_objects(report, store, category, young_after)
        return
    base = storage_root() / category.value
    if base.is_symlink() or not base.is_dir():
        return
    for date_entry in sorted(os.scandir(base), key=lambda entry: entry.name):
        relative_date = f"{category.value}/{date_entry.name}"
        if parse_date_folder(date_entry.name) is None or not date_entry.is_dir(
            follow_symlinks=False
        ):
            _orphan_tree(report, Path(date_entry.path), relative_date, set(), young_after)
            continue
        known = indexed_paths(f"{relative_date}/")
        _orphan_tree(report, Path(date_entry.path), relative_date, known, young_after)


def _orphan_tree(
    report: SanityReport, path: Path, relative: str, known: set[str], young_after: float
) -> None:
    """Report every file under ``path`` (or ``path`` itself) that ``known`` lacks."""
    if path.is_symlink() or not path.is_dir():
        candidates = [(path, relative)]
    else:
        candidates = []
        for current, dirnames, filenames in os.walk(path, followlinks=False):
            current_relative = relative + current.removeprefix(str(path))
            # A symlinked folder is listed in dirnames; report it as an entry.
            for name in [*filenames, *(d for d in dirnames if os.path.islink(f"{current}/{d}"))]:
                candidates.append((Path(current, name), f"{current_relative}/{name}"))
    for file_path, file_relative in candidates:
        if file_path.name.startswith(TEMPORARY_PREFIX):
            continue
        report.files_checked += 1
        if file_relative in known:
            continue
        try:
            stat = file_path.lstat()
        except FileNotFoundError:
            continue
        if stat.st_mtime > young_after:
            continue
        report.orphan_files.add(
            file_relative, size_bytes=stat.st_size, symlink=file_path.is_symlink()
        )


def _check_objects(
    report: SanityReport, store: StorageBackend, category: Category, young_after: float
) -> None:
    """Every object under ``{category}/`` that no live row knows, one date's rows
    at a time (the listing is in key order, so a date's keys come together)."""
    for prefix, objects in itertools.groupby(store.list(f"{category.value}/"), key=_date_prefix):
        parts = prefix.split("/")
        dated = len(parts) == 3 and parse_date_folder(parts[1]) is not None
        known = indexed_paths(prefix) if dated else set()
        for info in objects:
            report.files_checked += 1
            if info.key in known:
                continue
            if info.modified is not None and info.modified.timestamp() > young_after:
                continue
            report.orphan_files.add(info.key, size_bytes=info.size)


def _date_prefix(info: ObjectInfo) -> str:
    """``{category}/{date}/`` of a key (the key itself when it has no such level)."""
    parts = info.key.split("/")
    return "/".join(parts[:2]) + "/" if len(parts) > 2 else info.key
