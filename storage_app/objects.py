"""Stored media, wherever the configured backend keeps it: the one module the
product calls to save, open, hand a local file to a tool, serve, and delete what
the index records under ``uploads/``, ``frames/``, ``contact-sheets/`` and
``outputs/``.

Writes follow the configured backend. On the filesystem every call does exactly
what the code did before the seam (``writer.store_file``, ``layout.path_of_record``),
so paths, checks and rows stay as they were. On S3 the same relative path is the
object key, ``storage_path`` is ``s3://bucket/key``, and a tool that needs a file
on disk (ffmpeg, ffprobe, the document parsers) gets a copy downloaded into the
worker's local ``temp/``. Reads follow the row (``storage_app.locations``): an
``s3://`` row is read from the bucket, any other from disk, so a store half-way
through ``migrate_storage`` serves both.
``temp/`` itself never goes through here: it is always local (``writer``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings

from media_analysis.object_store_settings import BACKEND_FILESYSTEM, SERVE_REDIRECT
from storage_app.backends import get_backend
from storage_app.layout import (
    Category,
    UnsafePathError,
    canonical_request_id,
    make_folders,
    object_key,
    path_of_record,
)
from storage_app.locations import is_object_row, object_key_of_row
from storage_app.writer import CHUNK_SIZE, StoredFile, delete_file, store_file

logger = logging.getLogger(__name__)


def on_filesystem() -> bool:
    """True when stored media lives under ``STORAGE_ROOT`` (the default)."""
    return settings.STORAGE_BACKEND == BACKEND_FILESYSTEM


def store(
    source: Any,
    *,
    category: Category | str,
    request_id: uuid.UUID | str,
    name: str,
    on_date: date | datetime | None = None,
    max_bytes: int | None = None,
    expected_bytes: int = 0,
) -> StoredFile:
    """Save ``source`` (what ``writer.store_file`` takes: bytes, chunks, a binary
    file, an ``UploadedFile`` or a ``Path``) as ``{category}/{date}/{id}/{name}``,
    with size and SHA-256 computed on the way; on S3 a streamed multipart upload."""
    category = Category(category)
    if category is Category.TEMP:
        raise UnsafePathError("temp/ stays on the worker's local disk: use writer.store_file")
    if on_filesystem():
        return store_file(
            source,
            category=category,
            request_id=request_id,
            name=name,
            on_date=on_date,
            max_bytes=max_bytes,
            expected_bytes=expected_bytes,
        )
    key = object_key(category, request_id, name, on_date=on_date)
    saved = get_backend().save_stream(key, source, max_bytes=max_bytes)
    logger.info(
        "stored object",
        extra={"relative_path": key, "size_bytes": saved.size, "sha256": saved.sha256},
    )
    return StoredFile(
        category=category,
        request_id=canonical_request_id(request_id),
        name=key.rsplit("/", 1)[1],
        path=None,
        relative_path=key,
        size_bytes=saved.size,
        sha256=saved.sha256,
        uri=saved.uri,
    )


def discard(stored: StoredFile) -> None:
    """Remove what ``store`` wrote (a rolled-back row's file or object)."""
    if stored.path is not None:
        delete_file(stored.path)
    else:
        get_backend().delete(stored.relative_path)


def open_record(relative_path: str | None, storage_path: str | None) -> BinaryIO:
    """A streaming reader of a row's bytes; ``FileNotFoundError`` (an ``OSError``)
    when gone, ``UnsafePathError`` for a row that points outside the layout."""
    if is_object_row(storage_path):
        return get_backend().open(object_key_of_row(relative_path, storage_path))
    return path_of_record(relative_path, storage_path).open("rb")


def record_exists(relative_path: str | None, storage_path: str | None) -> bool:
    try:
        if is_object_row(storage_path):
            return get_backend().exists(object_key_of_row(relative_path, storage_path))
        return path_of_record(relative_path, storage_path).is_file()
    except UnsafePathError:
        return False


def local_path(relative_path: str | None, storage_path: str | None, *, work_dir: Path) -> Path:
    """A path on this host's disk holding the row's bytes, for tools that read
    files (ffmpeg, ffprobe, the document parsers): the stored file itself for a row
    on disk; for an object a copy downloaded into ``work_dir`` (a folder under the
    local ``temp/``, which the caller removes). ``FileNotFoundError`` when gone."""
    if is_object_row(storage_path):
        return download(relative_path, storage_path, work_dir=work_dir)
    path = path_of_record(relative_path, storage_path)
    if not path.is_file():
        raise FileNotFoundError(f"{relative_path or storage_path} is not stored")
    return path


@contextlib.contextmanager
def local_file(
    relative_path: str | None, storage_path: str | None, *, work_dir: Path
) -> Iterator[Path]:
    """``local_path`` for the length of a ``with`` block: a downloaded copy is
    removed on leaving it (a stored file on disk never is)."""
    path = local_path(relative_path, storage_path, work_dir=work_dir)
    try:
        yield path
    finally:
        if is_object_row(storage_path):
            path.unlink(missing_ok=True)


def download(relative_path: str | None, storage_path: str, *, work_dir: Path) -> Path:
    """An object row's bytes copied to ``work_dir/<its name>`` (streamed, never
    whole in memory); the caller removes it, or the folder."""
    key = object_key_of_row(relative_path, storage_path)
    folder = make_folders(work_dir)
    target = folder / key.rsplit("/", 1)[1]
    partial = target.with_name(f"{target.name}.download")
    try:
        with get_backend().open(key) as source, open(partial, "wb") as out:
            while chunk := source.read(CHUNK_SIZE):
                out.write(chunk)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target


def presigned_url(relative_path: str | None, storage_path: str | None) -> str | None:
    """A short-lived URL serving the row's object without our credentials, when
    the store hands them out and the settings say to redirect; None means the
    service streams the bytes itself (``open_record``)."""
    if not is_object_row(storage_path) or settings.OBJECT_STORE.serve != SERVE_REDIRECT:
        return None
    key = object_key_of_row(relative_path, storage_path)
    return get_backend().url_for(key, settings.OBJECT_STORE.presign_seconds)
