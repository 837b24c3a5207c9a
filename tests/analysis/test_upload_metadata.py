"""``uploads/{date}/{id}/metadata.json`` beside every stored upload or download:
who sent what, from where (no credentials), its size, checksum and detected type.
Written atomically, indexed like the media, gone with it on a rollback and at
retention."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from analysis import services
from analysis.ingest.store import Submission, store_incoming_media
from analysis.models import AnalysisRequest
from analysis.pipeline import run_analysis
from storage_app.cleanup import run_cleanup
from storage_app.models import MediaFile
from storage_app.writer import sha256_of_file
from tests.analysis.conftest import chunks_of

pytestmark = pytest.mark.django_db(transaction=True)


def _sidecar(request_id) -> tuple[MediaFile, dict]:
    row = MediaFile.objects.get(request_id=request_id, relative_path__endswith="/metadata.json")
    return row, json.loads(Path(row.storage_path).read_text())


def test_an_upload_gets_its_metadata_json_beside_it(storage_root, small_image):
    owner = get_user_model().objects.create_user("meta-owner")
    request = services.submit_upload_request(
        chunks=chunks_of(small_image), original_filename="Holiday Pic.JPG", prompt="p", owner=owner
    )
    original = MediaFile.objects.get(request=request, relative_path__endswith="/original.jpg")
    row, document = _sidecar(request.id)
    assert row.relative_path.rsplit("/", 1)[0] == original.relative_path.rsplit("/", 1)[0]
    assert document == {
        "request_id": str(request.id),
        "original_filename": "Holiday Pic.JPG",
        "source_url": None,
        "size_bytes": small_image.stat().st_size,
        "sha256": original.checksum,
        "mime_type": "image/jpeg",
        "media_type": "image",
        "stored_as": "original.jpg",
        "submitter_id": owner.pk,
        "created_at": request.created_at.isoformat(),
    }
    assert original.checksum == sha256_of_file(small_image)[1]
    # Indexed like every stored file, and expiring with the media.
    assert row.mime_type == "application/json"
    assert (row.size_bytes, row.checksum) == sha256_of_file(storage_root / row.relative_path)
    assert row.expires_at == original.expires_at
    assert not list(storage_root.glob("uploads/*/*/.tmp-*"))  # written atomically


def test_a_download_records_its_source_without_credentials(
    storage_root, small_image, httpserver, settings
):
    settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = True
    httpserver.expect_request("/photo").respond_with_data(small_image.read_bytes())
    # A pre-signed link: the query is its credential (user:pass@ URLs are refused).
    url = httpserver.url_for("/photo?X-Amz-Signature=secret&token=hunter2#frag")
    request = services.submit_url_request(media_url=url, prompt="Describe")
    assert run_analysis(request.id) == "completed"
    _, document = _sidecar(request.id)
    assert document["source_url"] == httpserver.url_for("/photo")
    assert "hunter2" not in json.dumps(document) and "secret" not in json.dumps(document)
    assert document["submitter_id"] is None
    assert document["mime_type"] == "image/jpeg"


def test_a_rolled_back_record_leaves_neither_file(storage_root, small_image):
    request_id = uuid.uuid4()
    incoming = store_incoming_media(request_id, chunks_of(small_image))
    with pytest.raises(RuntimeError), incoming.discard_on_error(), transaction.atomic():
        AnalysisRequest.objects.create(id=request_id, media_url="upload://x", prompt="p")
        incoming.record(Submission(request_id=request_id, created_at=timezone.now()))
        assert len(list(storage_root.glob("uploads/*/*/*"))) == 2
        raise RuntimeError("the request row could not be written")
    assert not list(storage_root.glob("uploads/*/*/*"))
    assert not MediaFile.objects.filter(request_id=request_id).exists()


def test_retention_removes_metadata_json_with_the_upload(storage_root, small_image):
    request = services.submit_upload_request(
        chunks=chunks_of(small_image), original_filename="a.jpg", prompt="p"
    )
    MediaFile.objects.filter(request=request).update(expires_at=timezone.now() - timedelta(days=1))
    report = run_cleanup(actor="system:test")
    assert report.total.files_deleted == 2
    assert not list(storage_root.glob("uploads/*/*/*"))
    assert MediaFile.objects.filter(request=request, deleted_at__isnull=True).count() == 0
