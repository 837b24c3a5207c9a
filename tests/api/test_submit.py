"""POST /api/media/analyze: JSON by URL and multipart uploads, idempotency, and bad
input that must give a named 4xx without storing anything."""

from __future__ import annotations

import json
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from analysis.models import AnalysisRequest, OutboxEntry
from analysis.models_api import IdempotencyKey
from storage_app.models import MediaFile
from tests.api.conftest import MEDIA_URL, error_of, jpeg_bytes

pytestmark = pytest.mark.django_db

ANALYZE = "/api/media/analyze"


def submit(caller, body=None, **extra):
    return caller.client.post(
        ANALYZE, body or {"media_url": MEDIA_URL, "prompt": "describe"}, format="json", **extra
    )


def stored_files(root):
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_a_url_submission_is_accepted_with_its_ids_and_links(alice, allow_local_media):
    correlation = str(uuid.uuid4())
    response = submit(
        alice,
        {
            "media_url": MEDIA_URL,
            "prompt": "what happens?",
            "provider": "builtin",
            "media_type": "video",
            "options": {"grid": "3x3", "frames": 9},
        },
        HTTP_X_CORRELATION_ID=correlation,
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    assert body["correlation_id"] == correlation == response["X-Correlation-ID"]
    assert response["Location"] == body["links"]["status"] == f"/api/media/status/{body['id']}"
    row = AnalysisRequest.objects.get(pk=body["id"])
    assert row.owner_id == alice.user.pk
    assert str(row.correlation_id) == correlation
    assert row.metadata["options"]["grid"] == "3x3"
    assert row.metadata["media_type_hint"] == "video"


def test_the_task_is_queued_with_the_correlation_id_after_commit(
    alice, allow_local_media, django_capture_on_commit_callbacks, monkeypatch
):
    from analysis import outbox

    sent = []
    monkeypatch.setattr(
        outbox,
        "send_task",
        lambda name, args, headers, queue: (
            sent.append((args, headers, queue)) if name == outbox.ANALYSE_TASK else None
        ),
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(alice)
    body = response.json()
    headers = {
        "analysis_id": body["id"],
        "correlation_id": body["correlation_id"],
        "http_request_id": response["X-Request-ID"],  # the worker's lines carry it too
    }
    assert sent == [((body["id"],), headers, "media.heavy")]  # MEDIA_URL: a .mp4
    assert OutboxEntry.objects.get(request_id=body["id"]).sent_at is not None


def test_idempotency_key_returns_the_first_request(alice, allow_local_media):
    first = submit(alice, HTTP_IDEMPOTENCY_KEY="order-42")
    again = submit(alice, HTTP_IDEMPOTENCY_KEY="order-42")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert AnalysisRequest.objects.count() == 1
    other = submit(alice, HTTP_IDEMPOTENCY_KEY="order-43")
    assert other.json()["id"] != first.json()["id"]


def test_idempotency_key_with_other_fields_is_refused(alice, allow_local_media):
    submit(alice, HTTP_IDEMPOTENCY_KEY="k1")
    response = submit(
        alice, {"media_url": MEDIA_URL, "prompt": "something else"}, HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert response.status_code == 422
    assert error_of(response)["code"] == "idempotency_key_reused"
    assert AnalysisRequest.objects.count() == 1


def test_idempotency_keys_belong_to_their_user(alice, bob, allow_local_media):
    a = submit(alice, HTTP_IDEMPOTENCY_KEY="same")
    b = submit(bob, HTTP_IDEMPOTENCY_KEY="same")
    assert a.json()["id"] != b.json()["id"]


def test_a_refused_submission_leaves_its_idempotency_key_free(alice, allow_local_media):
    bad = submit(alice, {"media_url": MEDIA_URL, "prompt": ""}, HTTP_IDEMPOTENCY_KEY="retry-me")
    assert bad.status_code == 400
    assert not IdempotencyKey.objects.exists()
    good = submit(alice, {"media_url": MEDIA_URL, "prompt": "ok"}, HTTP_IDEMPOTENCY_KEY="retry-me")
    assert good.status_code == 202


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "naïve"])
def test_a_malformed_idempotency_key_is_refused(alice, allow_local_media, key):
    response = submit(alice, HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_idempotency_key"


# ----------------------------------------------------------------- bad input
BAD_BODIES = [
    ({"media_url": MEDIA_URL}, 400, "prompt_required", "prompt"),
    ({"media_url": MEDIA_URL, "prompt": ""}, 400, "prompt_required", "prompt"),
    ({"media_url": MEDIA_URL, "prompt": "   "}, 400, "prompt_required", "prompt"),
    ({"media_url": MEDIA_URL, "prompt": None}, 400, "prompt_required", "prompt"),
    ({"media_url": MEDIA_URL, "prompt": "x" * 10_001}, 400, "prompt_too_long", "prompt"),
    ({"media_url": MEDIA_URL, "prompt": "a\x00b"}, 400, "invalid_prompt", "prompt"),
    ({"media_url": MEDIA_URL, "prompt": ["a"]}, 400, "invalid_prompt", "prompt"),
    (
        {"media_url": MEDIA_URL, "prompt": "p", "provider": "skynet"},
        400,
        "unknown_provider",
        "provider",
    ),
    (
        {"media_url": MEDIA_URL, "prompt": "p", "media_type": "hologram"},
        400,
        "invalid_media_type",
        "media_type",
    ),
    (
        {"media_url": MEDIA_URL, "prompt": "p", "options": {"colour": "red"}},
        400,
        "unknown_option",
        "options",
    ),
    (
        {"media_url": MEDIA_URL, "prompt": "p", "options": {"grid": "0x3"}},
        400,
        "invalid_grid",
        "options.grid",
    ),
    ({"media_url": MEDIA_URL, "prompt": "p", "options": "3x3"}, 400, "invalid_options", "options"),
    ({"prompt": "p"}, 400, "media_url_required", "media_url"),
    ({"media_url": "", "prompt": "p"}, 400, "media_url_required", "media_url"),
    (
        {"media_url": "ftp://example.org/a.mp4", "prompt": "p"},
        400,
        "url_scheme_not_allowed",
        "media_url",
    ),
    (
        {"media_url": "file:///etc/passwd", "prompt": "p"},
        400,
        "url_scheme_not_allowed",
        "media_url",
    ),
    ({"media_url": "not a url", "prompt": "p"}, 400, None, "media_url"),
    ({"media_url": "http://" + "a" * 9000, "prompt": "p"}, 400, "media_url_too_long", "media_url"),
    ({"media_url": 12, "prompt": "p"}, 400, "invalid_media_url", "media_url"),
    ({"media_url": MEDIA_URL, "prompt": 42}, 400, "invalid_prompt", "prompt"),
    ({"media_url": MEDIA_URL, "prompt": "p", "model": 4}, 400, "invalid_model", "model"),
]


@pytest.mark.parametrize(("body", "status", "code", "field"), BAD_BODIES)
def test_bad_input_names_the_problem_and_stores_nothing(
    alice, body, status, code, field, storage_root
):
    response = submit(alice, body)
    assert response.status_code == status, response.content
    error = error_of(response)
    if code:
        assert error["code"] == code
    assert error.get("field") == field
    assert AnalysisRequest.objects.count() == 0
    assert stored_files(storage_root) == []


def test_text_postgresql_cannot_store_is_refused(alice):
    raw = json.dumps({"media_url": MEDIA_URL, "prompt": "lone \ud800 surrogate"})
    response = alice.client.generic("POST", ANALYZE, raw, content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_prompt"
    assert AnalysisRequest.objects.count() == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.mp4",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.8/x",
        "http://[::1]/v",
    ],
)
def test_private_addresses_are_refused(alice, url):
    response = submit(alice, {"media_url": url, "prompt": "p"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "url_private_address"
    assert AnalysisRequest.objects.count() == 0


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        (b'{"media_url": "x", "prompt": ', "application/json", 400, "malformed_request"),
        (b"\xff\xfe not json", "application/json", 400, "malformed_request"),
        (b"[1, 2, 3]", "application/json", 400, "invalid_request"),
        (b'"just a string"', "application/json", 400, "invalid_request"),
        (b"prompt=hi", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"hello", "text/plain", 415, "unsupported_media_type"),
        (b"--x\r\nbroken", "multipart/form-data", 400, "malformed_request"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=", 400, "malformed_request"),
    ],
)
def test_malformed_bodies_are_refused(alice, raw, content_type, status, code):
    response = alice.client.generic("POST", ANALYZE, raw, content_type=content_type)
    assert response.status_code == status, response.content
    assert error_of(response)["code"] == code
    assert AnalysisRequest.objects.count() == 0


def test_get_on_analyze_is_405(alice):
    response = alice.client.get(ANALYZE)
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


# ------------------------------------------------------------------- uploads
def upload(caller, content: bytes, name="frame.jpg", **fields):
    data = {
        "file": SimpleUploadedFile(name, content, content_type="image/jpeg"),
        "prompt": "what is it?",
        **fields,
    }
    return caller.client.post(ANALYZE, data, format="multipart")


def test_an_upload_is_stored_under_uploads_and_recorded(alice, storage_root):
    response = upload(
        alice, jpeg_bytes(), name="holiday photo.jpg", options=json.dumps({"grid": "2x2"})
    )
    assert response.status_code == 202, response.content
    request = AnalysisRequest.objects.get(pk=response.json()["id"])
    assert request.media_url == f"upload://{request.id}"
    assert request.original_filename == "holiday photo.jpg"
    assert request.metadata["options"]["grid"] == "2x2"
    row = MediaFile.objects.get(request_id=request.id, relative_path__contains="/original.")
    assert row.relative_path.startswith("uploads/")
    assert (storage_root / row.relative_path).read_bytes() == jpeg_bytes()
    # Nothing left behind in temp/ once the request is over.
    assert not [p for p in (storage_root / "temp").rglob("*") if p.is_file()]


def test_an_oversized_upload_is_413_and_leaves_nothing(alice, settings, storage_root):
    settings.MEDIA_ANALYSIS_MAX_DOWNLOAD_BYTES = 1000
    response = upload(alice, b"\xff\xd8" + b"x" * 5000)
    assert response.status_code == 413
    assert error_of(response)["code"] == "upload_too_large"
    assert AnalysisRequest.objects.count() == 0
    assert stored_files(storage_root) == []


def test_an_upload_with_a_control_character_filename_is_cleaned(alice):
    response = upload(alice, jpeg_bytes(), name="bad\x00na\x07me.jpg")
    assert response.status_code == 202
    assert AnalysisRequest.objects.get().original_filename == "badname.jpg"


def test_two_files_or_another_field_are_refused(alice, storage_root):
    data = {
        "file": SimpleUploadedFile("a.jpg", jpeg_bytes(), content_type="image/jpeg"),
        "other": SimpleUploadedFile("b.jpg", jpeg_bytes(), content_type="image/jpeg"),
        "prompt": "p",
    }
    response = alice.client.post(ANALYZE, data, format="multipart")
    assert response.status_code == 400
    assert error_of(response)["code"] == "unexpected_file"
    assert AnalysisRequest.objects.count() == 0


def test_multipart_without_a_file_or_with_bad_options(alice):
    response = alice.client.post(ANALYZE, {"prompt": "p"}, format="multipart")
    assert response.status_code == 400
    assert error_of(response)["code"] == "file_required"
    response = upload(alice, jpeg_bytes(), options="{not json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_options"
    assert AnalysisRequest.objects.count() == 0


def test_a_field_given_twice_is_refused_and_one_the_form_does_not_read_is_ignored(alice):
    twice = alice.client.post(
        ANALYZE,
        {
            "file": SimpleUploadedFile("a.jpg", jpeg_bytes(), content_type="image/jpeg"),
            "prompt": ["one", "two"],
        },
        format="multipart",
    )
    assert twice.status_code == 400
    assert error_of(twice)["code"] == "invalid_prompt" and error_of(twice)["field"] == "prompt"
    assert AnalysisRequest.objects.count() == 0
    # An extra field, given once or twice, is ignored as in a JSON body.
    response = upload(alice, jpeg_bytes(), note=["a", "b"])
    assert response.status_code == 202, response.content


def test_an_empty_optional_form_field_is_as_if_omitted(alice):
    # What the schema's multipart body says (analysis/api/schema_closed.py).
    response = upload(alice, jpeg_bytes(), callback_url="", media_type="", options="")
    assert response.status_code == 202, response.content
    stored = AnalysisRequest.objects.get()
    assert "callback_url" not in stored.metadata and stored.media_type != ""


def test_an_empty_upload_is_refused(alice):
    response = upload(alice, b"")
    assert response.status_code == 400
    assert error_of(response)["field"] == "file"


def test_a_full_disk_answers_507(alice, settings, allow_local_media):
    settings.STORAGE_DISK_WARNING_PERCENT = 0
    settings.STORAGE_DISK_CRITICAL_PERCENT = 0
    for response in (submit(alice), upload(alice, jpeg_bytes())):
        assert response.status_code == 507
        assert error_of(response)["code"] == "insufficient_storage"
    assert AnalysisRequest.objects.count() == 0


def test_a_form_field_given_twice_is_refused(alice):
    data = {
        "file": SimpleUploadedFile("a.jpg", jpeg_bytes(), content_type="image/jpeg"),
        "prompt": ["one", "two"],
    }
    response = alice.client.post(ANALYZE, data, format="multipart")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_prompt"
    assert AnalysisRequest.objects.count() == 0
