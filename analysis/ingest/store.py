"""Incoming media (an upload or a download) onto disk under ``uploads/``.

The bytes stream into ``temp/{request_id}/`` first, because the stored name's
extension comes from the detected type and the type is known only once the bytes
are on disk; then one rename moves the file into ``uploads/{date}/{request_id}/``
(same filesystem: no second copy).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime

from django.conf import settings

from analysis.processing.detect import DetectedMedia, detect_media
from storage_app.disk import ensure_space_for_write
from storage_app.layout import (
    Category,
    build_path,
    make_folders,
    original_upload_name,
    relative_to_root,
    request_folder,
)
from storage_app.models import MediaFile
from storage_app.records import discard_on_error, record_media_file
from storage_app.writer import StoredFile, store_file

INCOMING_NAME = "incoming.part"


@dataclass(frozen=True)
class IncomingMedia:
    stored: StoredFile
    detected: DetectedMedia

    def record(self, *, original_path: str | None) -> MediaFile:
        return record_media_file(
            self.stored, mime_type=self.detected.mime_type, original_path=original_path
        )

    @contextmanager
    def discard_on_error(self) -> Iterator[None]:
        with discard_on_error(self.stored):
            yield


def store_incoming_media(
    request_id: uuid.UUID | str,
    chunks: Iterable[bytes],
    *,
    on_date: date | datetime | None = None,
    expected_bytes: int = 0,
) -> IncomingMedia:
    """Stream ``chunks`` to ``uploads/…/original.<ext>``, hashing as it goes, with
    the configured size limit enforced while reading."""
    ensure_space_for_write(expected_bytes)
    temporary = store_file(
        chunks,
        category=Category.TEMP,
        request_id=request_id,
        name=INCOMING_NAME,
        max_bytes=settings.MEDIA_ANALYSIS_MAX_DOWNLOAD_BYTES,
    )
    try:
        detected = detect_media(temporary.path)
        final_path = build_path(
            Category.UPLOADS, request_id, original_upload_name(detected.mime_type), on_date=on_date
        )
        make_folders(final_path.parent)
        os.replace(temporary.path, final_path)
    except BaseException:
        temporary.path.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(request_folder(Category.TEMP, request_id), ignore_errors=True)
    stored = replace(
        temporary,
        category=Category.UPLOADS,
        name=final_path.name,
        path=final_path,
        relative_path=relative_to_root(final_path),
    )
    return IncomingMedia(stored=stored, detected=detected)
