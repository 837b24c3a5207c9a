"""Analyses run in-process on the s3 backend (real SeaweedFS): the worker reads the
original through a local copy in its temp/ folder, writes frames, the contact sheet
and outputs as objects (rows keep the key and the s3:// URI, checksums match), and
leaves nothing under the local storage root."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis import services
from analysis.models import AnalysisRequest
from analysis.pipeline import run_analysis
from storage_app.backends import get_backend
from storage_app.models import ContactSheet, MediaFile
from tests.analysis.conftest import chunks_of
from tests.processing.media_factory import make_image, make_video
from tests.storage.conftest import S3_BUCKET

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("media") / "clip.mp4", seconds=3.0)


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    return make_image(tmp_path_factory.mktemp("media") / "photo.jpg", size=(640, 360))


@pytest.fixture
def s3(storage_root, object_store):
    return object_store


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def assert_rows_match_their_objects(request: AnalysisRequest, prefix: str) -> None:
    backend = get_backend()
    rows = list(
        MediaFile.objects.filter(request=request).values_list(
            "relative_path", "storage_path", "size_bytes", "checksum"
        )
    )
    rows += list(
        ContactSheet.objects.filter(request=request).values_list(
            "relative_path", "storage_path", "file_size_bytes", "checksum"
        )
    )
    for key, uri, size, checksum in rows:
        assert uri == f"s3://{S3_BUCKET}/{prefix}/{key}"
        assert backend.sha256_of(key) == (size, checksum), key


def test_a_video_upload_is_analysed_into_objects(s3, storage_root, clip):
    request = services.submit_upload_request(
        chunks=chunks_of(clip), original_filename="clip.mp4", prompt="What happens?"
    )

    assert run_analysis(request.id) == "completed"

    keys = set(MediaFile.objects.filter(request=request).values_list("relative_path", flat=True))
    frames = sorted(key.rsplit("/", 1)[1] for key in keys if key.startswith("frames/"))
    assert frames == [f"frame_{i:03d}.jpg" for i in range(1, 7)]
    assert {key.rsplit("/", 1)[1] for key in keys if key.startswith("outputs/")} == {
        "result.json",
        "summary.txt",
    }
    sheet = ContactSheet.objects.get(request=request)
    assert sheet.relative_path.startswith("contact-sheets/")
    assert_rows_match_their_objects(request, s3.prefix)
    result_key = next(key for key in keys if key.endswith("/result.json"))
    with get_backend().open(result_key) as stream:
        assert json.loads(stream.read())["media"]["media_type"] == "video"
    assert files_under(storage_root) == []  # the local copy and work files are gone


def test_media_by_url_is_downloaded_into_an_object(s3, storage_root, photo, httpserver, settings):
    settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = True
    httpserver.expect_request("/photo").respond_with_data(photo.read_bytes())
    request = services.submit_url_request(media_url=httpserver.url_for("/photo"), prompt="Hm?")

    assert run_analysis(request.id) == "completed"

    original = MediaFile.objects.get(request=request, filename="original.jpg")
    assert original.size_bytes == photo.stat().st_size
    assert_rows_match_their_objects(request, s3.prefix)
    assert files_under(storage_root) == []


def test_an_upload_whose_object_is_gone_fails_as_media_missing(s3, storage_root, photo):
    request = services.submit_upload_request(
        chunks=chunks_of(photo), original_filename="p.jpg", prompt="Hm?"
    )
    row = MediaFile.objects.get(request=request, filename="original.jpg")
    get_backend().delete(row.relative_path)

    assert run_analysis(request.id) == "failed"

    request.refresh_from_db()
    assert request.error_code == "media_missing"
    assert files_under(storage_root) == []
