"""Incoming media (an upload or a download) into the store under ``uploads/``.

The bytes stream into the local ``temp/{request_id}/`` first, because the stored
name's extension comes from the detected type and the type is known only once the
bytes are on disk. Then, on the filesystem, one rename moves the file into
``uploads/{date}/{request_id}/`` (same filesystem: no second copy); on S3 the temp
file is sent as a multipart upload under that key and removed.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from django.conf import settings

from analysis.ingest.url_guard import redact_url
from analysis.processing.detect import DetectedMedia, detect_media
from storage_app import objects
from storage_app.disk import ensure_space_for_write
from storage_app.layout import (
    METADATA_NAME,
    Category,
    build_path,
    make_folders,
    original_upload_name,
    parse_date_folder,
    relative_to_root,
    request_folder,
)
from storage_app.models import MediaFile
from storage_app.records import discard_on_error, record_media_file
from storage_app.writer import FileTooLargeError, StoredFile, store_file

INCOMING_NAME = "incoming.part"


@dataclass(frozen=True)
class Submission:
    """Who handed the media over, and how: what ``metadata.json`` says beside it."""

    request_id: uuid.UUID
    created_at: datetime
    submitter_id: int | None = None
    original_filename: str | None = None
    source_url: str | None = None  # as given; written without credentials or query


@dataclass(frozen=True)
class IncomingMedia:
    stored: StoredFile
    detected: DetectedMedia
    # Files written beside the media (metadata.json): discarded with it on error.
    written: list[StoredFile] = field(default_factory=list)
    # The bytes on this host's disk when asked for (``keep_local_copy``): the stored
    # file itself, or on S3 the downloaded file kept in ``source_folder``.
    local_path: Path | None = None

    def record(self, submission: Submission) -> MediaFile:
        """The media's ``media_files`` row and its ``metadata.json`` (written
        atomically, indexed and expiring like the media). Call inside the caller's
        transaction, within ``discard_on_error``."""
        sidecar = objects.store(
            json.dumps(self.metadata_document(submission), indent=2).encode(),
            category=Category.UPLOADS,
            request_id=self.stored.request_id,
            name=METADATA_NAME,
            on_date=parse_date_folder(self.stored.relative_path.split("/")[1]),
        )
        self.written.append(sidecar)
        row = record_media_file(
            self.stored,
            mime_type=self.detected.mime_type,
            original_path=submission.original_filename or submission.source_url,
        )
        record_media_file(sidecar, mime_type="application/json")
        return row

    def metadata_document(self, submission: Submission) -> dict[str, Any]:
        return {
            "request_id": str(submission.request_id),
            "original_filename": submission.original_filename,
            "source_url": redact_url(submission.source_url) if submission.source_url else None,
            "size_bytes": self.stored.size_bytes,
            "sha256": self.stored.sha256,
            "mime_type": self.detected.mime_type,
            "media_type": str(self.detected.media_type),
            "stored_as": self.stored.name,
            "submitter_id": submission.submitter_id,
            "created_at": submission.created_at.isoformat(),
        }

    @contextmanager
    def discard_on_error(self) -> Iterator[None]:
        with discard_on_error(self.stored):
            try:
                yield
            except BaseException:
                for sidecar in self.written:
                    objects.discard(sidecar)
                raise


def store_incoming_media(
    request_id: uuid.UUID | str,
    chunks: Iterable[bytes],
    *,
    on_date: date | datetime | None = None,
    expected_bytes: int = 0,
    source: Literal["upload", "download"] = "download",
    keep_local_copy: bool = False,
) -> IncomingMedia:
    """Stream ``chunks`` to ``uploads/…/original.<ext>``, hashing as it goes, with
    the configured size limit enforced while reading (``upload_too_large`` or
    ``download_too_large``, by ``source``). ``keep_local_copy`` (a worker that
    goes on to process the media) keeps the bytes on disk as ``local_path``: on S3
    in ``source_folder``, which the caller removes with the rest of its temp/."""
    ensure_space_for_write(expected_bytes)
    try:
        temporary = store_file(
            chunks,
            category=Category.TEMP,
            request_id=request_id,
            name=INCOMING_NAME,
            max_bytes=settings.MEDIA_ANALYSIS_MAX_DOWNLOAD_BYTES,
        )
    except FileTooLargeError as exc:
        field = "file" if source == "upload" else "media_url"
        raise FileTooLargeError(exc.max_bytes, code=f"{source}_too_large", field=field) from None
    local_path = None
    try:
        detected = detect_media(temporary.path)
        name = original_upload_name(detected.mime_type)
        if objects.on_filesystem():
            stored = _move_into_uploads(temporary, name, on_date)
            local_path = stored.path if keep_local_copy else None
        else:
            stored = objects.store(
                temporary.path,
                category=Category.UPLOADS,
                request_id=request_id,
                name=name,
                on_date=on_date,
            )
            if keep_local_copy:  # the worker reads these bytes next: no second download
                local_path = make_folders(source_folder(request_id)) / name
                os.replace(temporary.path, local_path)
    except BaseException:
        temporary.path.unlink(missing_ok=True)
        local_path = None
        raise
    finally:
        if local_path is None or objects.on_filesystem():
            shutil.rmtree(request_folder(Category.TEMP, request_id), ignore_errors=True)
    return IncomingMedia(stored=stored, detected=detected, local_path=local_path)


def source_folder(request_id: uuid.UUID | str) -> Path:
    """Where a worker keeps its local copy of a request's media from the object
    store, inside the request's temp/ folder (removed with it)."""
    return request_folder(Category.TEMP, request_id) / "source"


def _move_into_uploads(
    temporary: StoredFile, name: str, on_date: date | datetime | None
) -> StoredFile:
    """The temp file renamed into ``uploads/`` (the filesystem's way: no copy)."""
    final_path = build_path(Category.UPLOADS, temporary.request_id, name, on_date=on_date)
    make_folders(final_path.parent)
    os.replace(temporary.path, final_path)
    return replace(
        temporary,
        category=Category.UPLOADS,
        name=final_path.name,
        path=final_path,
        relative_path=relative_to_root(final_path),
    )
