"""The object store away (its address refusing connections, as a store that is
down or restarting): the API answers 503 ``object_store_unavailable`` with
Retry-After and a JSON body, and stores nothing; a worker's analysis fails with
that code, for the caller to retry; once the store answers again, the next call
works (no state of ours to recover). The time to answer while it is away is
measured: botocore's own retries (5 attempts, exponential backoff) bound it."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from analysis import services
from analysis.models import AnalysisRequest
from analysis.pipeline import run_analysis
from media_analysis.embedded import free_port
from storage_app.models import MediaFile
from tests.analysis.conftest import chunks_of
from tests.api.conftest import error_of, jpeg_bytes, make_caller
from tests.storage.test_s3_serving import with_sheet_and_frame

pytestmark = pytest.mark.django_db(transaction=True)

# botocore's standard mode: 5 attempts, backoff of at most 1, 2, 4, 8 s between them.
ANSWER_BOUND_SECONDS = 25.0


@pytest.fixture
def s3(storage_root, object_store):
    return object_store


@pytest.fixture
def store_down(s3, settings):
    """The store's address refusing connections; ``back()`` points at it again."""
    settings.OBJECT_STORE = replace(s3, endpoint_url=f"http://127.0.0.1:{free_port()}")

    def back() -> None:
        settings.OBJECT_STORE = s3

    return back


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def upload(caller):
    return caller.client.post(
        "/api/media/analyze",
        {"file": SimpleUploadedFile("a.jpg", jpeg_bytes((64, 48)), "image/jpeg"), "prompt": "?"},
        format="multipart",
    )


def test_an_upload_while_the_store_is_away_is_a_503_that_stores_nothing(store_down, storage_root):
    alice = make_caller("alice")
    started = time.monotonic()
    response = upload(alice)
    waited = time.monotonic() - started

    assert response.status_code == 503, response.content
    error = error_of(response)
    assert error["code"] == "object_store_unavailable", error
    assert response["Retry-After"] == "30"
    assert waited < ANSWER_BOUND_SECONDS
    assert AnalysisRequest.objects.count() == 0 and MediaFile.objects.count() == 0
    assert files_under(storage_root) == []  # the upload's temp file is gone too
    print(f"\n503 after {waited:.1f} s with the store away")

    store_down()  # back
    assert upload(alice).status_code == 202


def test_the_sheet_while_the_store_is_away_is_a_503(s3, settings):
    alice = make_caller("alice")
    request = with_sheet_and_frame(alice.user)
    settings.OBJECT_STORE = replace(s3, endpoint_url=f"http://127.0.0.1:{free_port()}")

    response = alice.client.get(f"/api/media/{request.id}/contact-sheet")

    assert response.status_code == 503, response.content
    assert error_of(response)["code"] == "object_store_unavailable"
    settings.OBJECT_STORE = s3
    assert alice.client.get(f"/api/media/{request.id}/contact-sheet").status_code == 302


def test_an_analysis_while_the_store_is_away_fails_with_its_code(s3, settings, tmp_path):
    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg_bytes((320, 200)))
    request = services.submit_upload_request(
        chunks=chunks_of(photo), original_filename="p.jpg", prompt="What is it?"
    )
    settings.OBJECT_STORE = replace(s3, endpoint_url=f"http://127.0.0.1:{free_port()}")

    assert run_analysis(request.id) == "failed"

    request.refresh_from_db()
    assert request.error_code == "object_store_unavailable", request.error_message
    settings.OBJECT_STORE = s3
    services.retry_request(request.id)
    assert run_analysis(request.id) == "completed"
