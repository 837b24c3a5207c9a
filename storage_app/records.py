"""Index rows for stored files: ``media_files`` and ``contact_sheets``.

Call these inside the caller's ``transaction.atomic()``, together with the request
update, so the row and the request change commit or roll back as one. Wrap that
block in ``discard_on_error(stored)`` so a rollback also removes the file (or the
object: ``storage_app.objects``), and the store never holds one the index does not
know about.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import models, transaction

from media_analysis.db_fields import DbNow
from storage_app.layout import Category, retention_for, storage_root
from storage_app.models import ContactSheet, MediaFile
from storage_app.objects import discard
from storage_app.writer import StoredFile

logger = logging.getLogger(__name__)


def record_media_file(
    stored: StoredFile,
    *,
    mime_type: str | None,
    original_path: str | None = None,
) -> MediaFile:
    """The ``media_files`` row of a stored file, created (or refreshed, when a
    retried task rewrote the same path) with size, checksum, retention and
    ``expires_at = uploaded_at + retention`` (both from the database's clock).

    ``original_path`` keeps where the file came from (a user's original filename or
    a source address); it is never used to build a path.
    """
    if stored.category is Category.TEMP:
        raise ValueError("temp files are not indexed; store them in another category")
    retention = retention_for(stored.category)
    values = {
        "request_id": uuid.UUID(stored.request_id),
        "filename": stored.name,
        "original_path": original_path,
        "storage_path": stored.storage_path,
        "relative_path": stored.relative_path,
        "size_bytes": stored.size_bytes,
        "mime_type": mime_type,
        "checksum": stored.sha256,
        "retention_days": retention.days if retention else None,
        "expires_at": _now_plus(retention),
    }
    with transaction.atomic():
        row = (
            MediaFile.objects.select_for_update()
            .filter(relative_path=stored.relative_path, deleted_at__isnull=True)
            .first()
        )
        if row is None:
            row = MediaFile.objects.create(**values)
        else:
            for field, value in values.items():
                setattr(row, field, value)
            row.uploaded_at = DbNow()
            row.save()
        row.refresh_from_db(fields=["uploaded_at", "expires_at"])
    return row


def record_contact_sheet(
    stored: StoredFile,
    *,
    frames_count: int,
    grid_layout: str | None = None,
    resolution: str | None = None,
    metadata: dict | None = None,
) -> ContactSheet:
    """The ``contact_sheets`` row of a stored sheet. The table has no ``expires_at``:
    cleanup derives expiry from ``created_at`` and the contact-sheets retention."""
    if stored.category is not Category.CONTACT_SHEETS:
        raise ValueError(f"a contact sheet must be stored in {Category.CONTACT_SHEETS}")
    extra = {}
    if grid_layout is not None:
        extra["grid_layout"] = grid_layout
    if resolution is not None:
        extra["resolution"] = resolution
    sheet = ContactSheet.objects.create(
        request_id=uuid.UUID(stored.request_id),
        storage_path=stored.storage_path,
        relative_path=stored.relative_path,
        frames_count=frames_count,
        file_size_bytes=stored.size_bytes,
        checksum=stored.sha256,
        metadata=metadata or {},
        **extra,
    )
    sheet.refresh_from_db(fields=["created_at"])
    return sheet


@contextmanager
def discard_on_error(*stored_files: StoredFile) -> Iterator[None]:
    """Delete the given stored files if the block raises (e.g. its transaction
    rolled back), so no file is left without its row. Put it outside the atomic
    block, so a failed commit counts too::

        with discard_on_error(stored), transaction.atomic():
            request.save(update_fields=[...])
            record_media_file(stored, mime_type=mime)
    """
    try:
        yield
    except BaseException:
        for stored in stored_files:
            try:
                discard(stored)
            except Exception:
                logger.exception(
                    "could not remove a file whose row was not recorded",
                    extra={"relative_path": stored.relative_path},
                )
        raise


def _now_plus(retention: timedelta | None) -> models.Expression | None:
    """``now() + retention`` in SQL: the same transaction timestamp as uploaded_at."""
    if retention is None:
        return None
    return models.ExpressionWrapper(
        DbNow() + models.Value(retention, output_field=models.DurationField()),
        output_field=models.DateTimeField(),
    )


def indexed_paths(prefix: str) -> set[str]:
    """Relative paths under ``prefix`` (e.g. ``"frames/2026-01-02/<id>/"``) that a
    live row knows: a ``media_files`` row without ``deleted_at``, or a contact sheet
    not marked deleted. Rows without a relative path count by their storage path."""
    from django.db.models import Q

    root_prefix = f"{storage_root()}/"
    known: set[str] = set()
    rows = MediaFile.objects.filter(deleted_at__isnull=True).filter(
        Q(relative_path__startswith=prefix)
        | Q(relative_path__isnull=True, storage_path__startswith=root_prefix + prefix)
    )
    sheets = ContactSheet.objects.filter(
        Q(metadata__isnull=True) | ~Q(metadata__has_key="deleted_at")
    ).filter(
        Q(relative_path__startswith=prefix)
        | Q(relative_path__isnull=True, storage_path__startswith=root_prefix + prefix)
    )
    for queryset in (rows, sheets):
        for relative, absolute in queryset.values_list("relative_path", "storage_path").iterator():
            known.add(relative or absolute.removeprefix(root_prefix))
    return known
