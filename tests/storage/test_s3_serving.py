"""The product's data path on the s3 backend (real SeaweedFS): an upload through
the API lands as an object with its size and SHA-256 and nothing under the storage
root; the contact sheet and frames reach their owner as a 302 to a presigned URL
(fetched with plain HTTP: the same bytes) or streamed through, and nobody else
sees them."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from analysis.models import AnalysisRequest
from storage_app import objects
from storage_app.backends import get_backend
from storage_app.layout import CONTACT_SHEET_NAME, Category, frame_name
from storage_app.models import MediaFile
from storage_app.records import record_contact_sheet, record_media_file
from tests.api.conftest import Caller, error_of, jpeg_bytes, make_caller, make_request
from tests.storage.conftest import S3_BUCKET

pytestmark = pytest.mark.django_db

SHEET = jpeg_bytes((96, 64))
FRAME = jpeg_bytes((48, 32))


@pytest.fixture
def alice(db) -> Caller:
    return make_caller("alice")


@pytest.fixture
def bob(db) -> Caller:
    return make_caller("bob")


@pytest.fixture
def s3(storage_root, object_store):
    """The s3 backend on SeaweedFS, with a local storage root for temp/ only."""
    return object_store


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def with_sheet_and_frame(owner) -> AnalysisRequest:
    """A completed request whose sheet and first frame are objects in the store,
    stored and indexed as the pipeline does."""
    request = make_request(owner, status="completed", media_type="video")
    sheet = objects.store(
        SHEET,
        category=Category.CONTACT_SHEETS,
        request_id=request.id,
        name=CONTACT_SHEET_NAME,
        on_date=request.created_at,
    )
    record_contact_sheet(sheet, frames_count=1)
    frame = objects.store(
        FRAME,
        category=Category.FRAMES,
        request_id=request.id,
        name=frame_name(1),
        on_date=request.created_at,
    )
    record_media_file(frame, mime_type="image/jpeg")
    return request


def test_an_upload_lands_as_an_object_and_nothing_under_the_root(alice, s3, seaweed, storage_root):
    content = jpeg_bytes((320, 200))
    response = alice.client.post(
        "/api/media/analyze",
        {"file": SimpleUploadedFile("a.jpg", content, "image/jpeg"), "prompt": "what is it?"},
        format="multipart",
    )

    assert response.status_code == 202, response.content
    row = MediaFile.objects.get(request_id=response.json()["id"], filename="original.jpg")
    full_key = f"{s3.prefix}/{row.relative_path}"
    assert row.relative_path.startswith("uploads/")
    assert row.storage_path == f"s3://{S3_BUCKET}/{full_key}"
    body = seaweed.client().get_object(Bucket=S3_BUCKET, Key=full_key)["Body"].read()
    assert body == content
    assert (row.size_bytes, row.checksum) == (len(content), hashlib.sha256(content).hexdigest())
    sidecar = MediaFile.objects.get(request_id=row.request_id, filename="metadata.json")
    assert get_backend().exists(sidecar.relative_path)
    assert files_under(storage_root) == []  # temp/ emptied, nothing else written


def test_an_upload_the_store_refuses_is_a_503_naming_it(alice, s3, storage_root, settings):
    # A real refusal: SeaweedFS rejects the signature of a wrong secret.
    settings.OBJECT_STORE = replace(s3, secret_key="not-the-secret")

    response = alice.client.post(
        "/api/media/analyze",
        {"file": SimpleUploadedFile("a.jpg", jpeg_bytes((64, 48)), "image/jpeg"), "prompt": "?"},
        format="multipart",
    )

    assert response.status_code == 503, response.content
    assert error_of(response)["code"] == "object_store_unavailable"
    assert int(response["Retry-After"]) >= 1
    assert "not-the-secret" not in response.content.decode()
    assert not AnalysisRequest.objects.exists() and not MediaFile.objects.exists()
    assert files_under(storage_root) == []  # the upload's temp file went too


def test_the_sheet_and_frames_redirect_to_presigned_urls_with_the_same_bytes(alice, s3):
    request = with_sheet_and_frame(alice.user)
    for path, expected in (
        (f"/api/media/{request.id}/contact-sheet", SHEET),
        (f"/api/media/{request.id}/frames/1", FRAME),
    ):
        response = alice.client.get(path, HTTP_ACCEPT="image/jpeg")

        assert response.status_code == 302, response.content
        location = response["Location"]
        assert "private" in response["Cache-Control"]
        query = parse_qs(urlsplit(location).query)
        assert query["X-Amz-Expires"] == [str(s3.presign_seconds)]
        fetched = httpx.get(location)  # no credentials: the signature is the key
        assert fetched.status_code == 200
        assert fetched.content == expected


def test_the_presign_lifetime_follows_the_setting(alice, s3, settings):
    settings.OBJECT_STORE = replace(s3, presign_seconds=42)
    request = with_sheet_and_frame(alice.user)
    response = alice.client.get(f"/api/media/{request.id}/contact-sheet")
    assert parse_qs(urlsplit(response["Location"]).query)["X-Amz-Expires"] == ["42"]


def test_stream_mode_serves_the_bytes_itself(alice, s3, settings):
    settings.OBJECT_STORE = replace(s3, serve="stream")
    request = with_sheet_and_frame(alice.user)
    for path, expected in (
        (f"/api/media/{request.id}/contact-sheet", SHEET),
        (f"/api/media/{request.id}/frames/1", FRAME),
    ):
        response = alice.client.get(path, HTTP_ACCEPT="image/jpeg")

        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert b"".join(response.streaming_content) == expected


@pytest.mark.parametrize("serve", ["redirect", "stream"])
def test_other_owners_get_a_404_and_no_url(alice, bob, s3, settings, serve):
    settings.OBJECT_STORE = replace(s3, serve=serve)
    request = with_sheet_and_frame(alice.user)
    for path in (f"/api/media/{request.id}/contact-sheet", f"/api/media/{request.id}/frames/1"):
        response = bob.client.get(path, HTTP_ACCEPT="image/jpeg")

        assert response.status_code == 404
        assert "Location" not in response
        assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize("serve", ["redirect", "stream"])
def test_a_gone_object_is_a_json_404(alice, s3, settings, serve):
    settings.OBJECT_STORE = replace(s3, serve=serve)
    request = with_sheet_and_frame(alice.user)
    for row in MediaFile.objects.filter(request=request):
        get_backend().delete(row.relative_path)
    for sheet in request.contact_sheets.all():
        get_backend().delete(sheet.relative_path)

    sheet = alice.client.get(f"/api/media/{request.id}/contact-sheet", HTTP_ACCEPT="image/jpeg")
    frame = alice.client.get(f"/api/media/{request.id}/frames/1", HTTP_ACCEPT="image/jpeg")

    assert (sheet.status_code, error_of(sheet)["code"]) == (404, "contact_sheet_missing")
    assert (frame.status_code, error_of(frame)["code"]) == (404, "frame_missing")


def test_the_admins_sheet_image_redirects_too(admin_client, alice, s3):
    request = with_sheet_and_frame(alice.user)
    sheet = request.contact_sheets.get()
    response = admin_client.get(reverse("admin:storage_app_contactsheet_image", args=[sheet.pk]))

    assert response.status_code == 302
    assert httpx.get(response["Location"]).content == SHEET
