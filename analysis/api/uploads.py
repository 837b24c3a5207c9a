"""Receiving an upload: straight to a file under the storage root's ``temp/`` (this
host's local disk; on the filesystem backend the same filesystem as ``uploads/``),
never held in memory, with the size limit enforced while the bytes arrive. From
there ``analysis.ingest.store`` puts it in the store (on S3, a multipart upload).

Installed per request by the submit view (``use_upload_handler``), so the rest of
the site keeps Django's defaults. Refusals are raised as API errors: 413 when the
declared or received size exceeds ``MEDIA_ANALYSIS_MAX_DOWNLOAD_BYTES``, 507 when
the disk is too full for it (checked before the first byte is read), 400 for a
second file or a file under another field name.
"""

from __future__ import annotations

import os
import tempfile
import unicodedata
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler

from analysis.api.exceptions import ApiError
from storage_app.disk import ensure_space_for_write
from storage_app.layout import Category, make_folders, storage_root

FILE_FIELD = "file"
# Room for the multipart boundaries and the other form fields around the file.
MULTIPART_OVERHEAD_BYTES = 1024 * 1024


def upload_too_large() -> ApiError:
    limit = settings.MEDIA_ANALYSIS_MAX_DOWNLOAD_BYTES
    return ApiError(
        413, "upload_too_large", f"The file exceeds the limit of {limit} bytes.", field=FILE_FIELD
    )


class StorageTemporaryFile(UploadedFile):
    """An uploaded file in ``temp/``, deleted when closed (at the end of the request)."""

    def __init__(self, name: str, content_type: str, charset: str | None, content_type_extra: Any):
        folder = make_folders(storage_root() / Category.TEMP.value)
        handle = tempfile.NamedTemporaryFile(prefix="upload-", suffix=".part", dir=folder)  # noqa: SIM115
        super().__init__(handle, name, content_type, 0, charset, content_type_extra)

    def temporary_file_path(self) -> str:
        return self.file.name

    def close(self) -> None:
        try:
            return self.file.close()
        except FileNotFoundError:
            pass


class LimitedDiskUploadHandler(FileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        limit = settings.MEDIA_ANALYSIS_MAX_DOWNLOAD_BYTES
        if content_length and content_length > limit + MULTIPART_OVERHEAD_BYTES:
            raise upload_too_large()
        ensure_space_for_write(content_length or 0)
        self.files_seen = 0
        return None

    def new_file(
        self,
        field_name,
        file_name,
        content_type,
        content_length,
        charset=None,
        content_type_extra=None,
    ):
        super().new_file(
            field_name, file_name, content_type, content_length, charset, content_type_extra
        )
        self.files_seen = getattr(self, "files_seen", 0) + 1
        if field_name != FILE_FIELD:
            raise ApiError(
                400,
                "unexpected_file",
                f"Send the media as the '{FILE_FIELD}' field.",
                field=field_name,
            )
        if self.files_seen > 1:
            raise ApiError(400, "too_many_files", "Send one file per request.", field=FILE_FIELD)
        self.received = 0
        self.file = StorageTemporaryFile(
            clean_filename(file_name), content_type, charset, content_type_extra
        )

    def receive_data_chunk(self, raw_data: bytes, start: int):
        self.received += len(raw_data)
        if self.received > settings.MEDIA_ANALYSIS_MAX_DOWNLOAD_BYTES:
            self.file.close()
            raise upload_too_large()
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size: int):
        self.file.seek(0)
        self.file.size = file_size
        return self.file

    def upload_interrupted(self) -> None:
        if hasattr(self, "file"):
            self.file.close()


def clean_filename(name: str | None) -> str:
    """The client's file name, as a label only (never a path): no control characters,
    no NUL, valid UTF-8, at most 255 characters."""
    name = os.path.basename(name or "")
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.encode("utf-8", "ignore").decode("utf-8")
    return name[:255] or "upload"


def use_upload_handler(django_request) -> None:
    django_request.upload_handlers = [LimitedDiskUploadHandler(django_request)]
