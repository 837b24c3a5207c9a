"""Fixtures for the storage tests: requests to hang media_files rows on (real
PostgreSQL). The storage root is tests/conftest.py's."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from storage_app.layout import Category, build_path, make_folders
from storage_app.models import MediaFile


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder next to the root, where nothing may ever be written."""
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


@pytest.fixture
def make_request(db):
    from analysis.models import AnalysisRequest

    def make() -> AnalysisRequest:
        return AnalysisRequest.objects.create(media_url="https://example.com/a.mp4", prompt="p")

    return make


def plant_file(
    category: Category,
    request_id: uuid.UUID | str,
    name: str,
    content: bytes,
    *,
    on_date: datetime,
    age: timedelta | None = None,
) -> Path:
    """A file in the layout as the writer would leave it, optionally aged (mtime)."""
    path = build_path(category, request_id, name, on_date=on_date)
    make_folders(path.parent)
    path.write_bytes(content)
    if age is not None:
        stamp = (datetime.now() - age).timestamp()
        os.utime(path, (stamp, stamp))
    return path


def plant_row(path: Path, root: Path, request, **fields) -> MediaFile:
    """A media_files row for a planted file (checksum and size as recorded)."""
    import hashlib

    data = path.read_bytes()
    return MediaFile.objects.create(
        request=request,
        filename=path.name,
        storage_path=str(path),
        relative_path=path.relative_to(root).as_posix(),
        size_bytes=len(data),
        checksum=hashlib.sha256(data).hexdigest(),
        **fields,
    )
