"""Fixtures for the storage tests: requests to hang media_files rows on (real
PostgreSQL), and a real S3 server (SeaweedFS, started once per session when a test
asks for it). The storage root is tests/conftest.py's."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from media_analysis.object_store_settings import ObjectStoreSettings
from storage_app.backends import StorageBackend, get_backend
from storage_app.layout import Category, build_path, make_folders
from storage_app.models import MediaFile
from tests.storage.seaweed import SeaweedServer

S3_BUCKET = "media-analysis-test"


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder next to the root, where nothing may ever be written."""
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory) -> SeaweedServer:
    """SeaweedFS serving S3 with one bucket, for the whole session (about 4 s to start)."""
    server = SeaweedServer(tmp_path_factory.mktemp("seaweed")).start()
    try:
        server.create_bucket(S3_BUCKET)
        yield server
    finally:
        server.stop()


@pytest.fixture
def object_store(seaweed, settings) -> ObjectStoreSettings:
    """The s3 backend configured on SeaweedFS, under a key prefix of this test's own
    (tests share the bucket, never each other's keys)."""
    config = ObjectStoreSettings(
        bucket=S3_BUCKET,
        access_key=seaweed.access_key,
        secret_key=seaweed.secret_key,
        endpoint_url=seaweed.endpoint_url,
        region=seaweed.region,
        prefix=f"test-{uuid.uuid4().hex[:12]}",
        addressing_style="path",
        part_size_bytes=5 * 1024 * 1024,  # S3's smallest part: several parts per test
        max_concurrency=4,
    )
    settings.STORAGE_BACKEND = "s3"
    settings.OBJECT_STORE = config
    return config


@pytest.fixture(params=["filesystem", "s3"])
def backend(request, settings) -> StorageBackend:
    """Each backend in turn: the interface tests hold for both."""
    if request.param == "filesystem":
        request.getfixturevalue("storage_root")
        settings.STORAGE_BACKEND = "filesystem"
        settings.OBJECT_STORE = None
    else:
        request.getfixturevalue("object_store")
    chosen = get_backend()
    assert chosen.name == request.param
    return chosen


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
