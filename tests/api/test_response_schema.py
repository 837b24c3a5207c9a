"""options.response_schema at the API (issue 13): checked on submit (a named 400,
nothing stored), kept with the request, and the validated answer returned as
``result.data`` by the status endpoint."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from analysis.models import AnalysisRequest, AnalysisResult
from tests.api.conftest import MEDIA_URL, error_of, jpeg_bytes, make_completed

pytestmark = pytest.mark.django_db

ANALYZE = "/api/media/analyze"
SCHEMA = {
    "type": "object",
    "properties": {"duration_seconds": {"type": "number"}, "scene": {"type": "string"}},
    "required": ["duration_seconds"],
}


def submit(caller, schema):
    body = {"media_url": MEDIA_URL, "prompt": "p", "options": {"response_schema": schema}}
    return caller.client.post(ANALYZE, body, format="json")


def stored_files(root):
    return sorted(p for p in root.rglob("*") if p.is_file())


BAD_SCHEMAS = [
    pytest.param(["not", "an", "object"], "invalid_response_schema", "JSON object", id="list"),
    pytest.param("a string", "invalid_response_schema", "JSON object", id="string"),
    pytest.param({"type": "whole number"}, "invalid_response_schema", "/type", id="bad-type"),
    pytest.param(
        {"type": "object", "properties": {"a": {"type": "string", "pattern": "("}}},
        "invalid_response_schema",
        "/properties/a/pattern",
        id="bad-regex",
    ),
    pytest.param({"required": "a"}, "invalid_response_schema", "/required", id="bad-required"),
    pytest.param(
        {"$ref": "https://example.org/schema.json"},
        "invalid_response_schema",
        "fetches nothing",
        id="remote-ref",
    ),
    pytest.param(
        {"properties": {"a": {"$ref": "#/$defs/missing"}}},
        "invalid_response_schema",
        "not in the schema",
        id="dangling-ref",
    ),
    pytest.param(
        {"$schema": "https://example.org/my-dialect"},
        "invalid_response_schema",
        "unknown $schema",
        id="unknown-dialect",
    ),
    pytest.param(
        {"type": "object", "description": "a\x00b"}, "invalid_response_schema", "NUL", id="nul"
    ),
    pytest.param({"a\x00": {}}, "invalid_response_schema", "NUL", id="nul-in-a-key"),
    pytest.param(
        {"type": "object", "description": "x" * (16 * 1024)},
        "response_schema_too_large",
        "16 KB",
        id="too-large",
    ),
]


@pytest.mark.parametrize(("schema", "code", "words"), BAD_SCHEMAS)
def test_a_bad_schema_is_a_named_400_and_nothing_is_stored(
    alice, allow_local_media, storage_root, schema, code, words
):
    response = submit(alice, schema)
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == code
    assert error["field"] == "options.response_schema"
    assert words in error["message"]
    assert AnalysisRequest.objects.count() == 0
    assert stored_files(storage_root) == []


def test_a_schema_of_exactly_16_kb_is_accepted(alice, allow_local_media):
    schema = {"type": "object", "description": ""}
    schema["description"] = "x" * (16 * 1024 - len(json.dumps(schema, separators=(",", ":"))))
    assert len(json.dumps(schema, separators=(",", ":")).encode()) == 16 * 1024
    assert submit(alice, schema).status_code == 202


def test_a_good_schema_is_kept_with_the_request_and_shown_in_its_options(alice, allow_local_media):
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", **SCHEMA}
    response = submit(alice, draft7)
    assert response.status_code == 202, response.content
    request = AnalysisRequest.objects.get(pk=response.json()["id"])
    assert request.metadata["options"]["response_schema"] == draft7
    status = alice.client.get(response.json()["links"]["status"]).json()
    assert status["options"]["response_schema"] == draft7


def test_without_a_schema_the_stored_options_keep_their_shape(alice, allow_local_media):
    response = alice.client.post(ANALYZE, {"media_url": MEDIA_URL, "prompt": "p"}, format="json")
    request = AnalysisRequest.objects.get(pk=response.json()["id"])
    assert "response_schema" not in request.metadata["options"]


def test_an_upload_takes_a_schema_in_its_options_text(alice, storage_root):
    def upload(schema):
        data = {
            "file": SimpleUploadedFile("a.jpg", jpeg_bytes(), content_type="image/jpeg"),
            "prompt": "p",
            "options": json.dumps({"response_schema": schema}, indent=2),
        }
        return alice.client.post(ANALYZE, data, format="multipart")

    refused = upload({"type": "object", "description": "x" * 17_000})
    assert refused.status_code == 400
    assert error_of(refused)["code"] == "response_schema_too_large"
    assert AnalysisRequest.objects.count() == 0
    assert stored_files(storage_root) == []

    # Larger than the old 2,000-character limit of the options text.
    schema = {**SCHEMA, "description": "y" * 5_000}
    accepted = upload(schema)
    assert accepted.status_code == 202, accepted.content
    assert AnalysisRequest.objects.get().metadata["options"]["response_schema"] == schema


def test_the_status_returns_the_validated_answer_as_result_data(alice):
    request = make_completed(alice.user)
    AnalysisResult.objects.filter(request=request).update(
        data={"duration_seconds": 4.0, "scene": None}
    )
    body = alice.client.get(f"/api/media/status/{request.id}").json()
    assert body["result"]["data"] == {"duration_seconds": 4.0, "scene": None}
    assert body["result"]["text"] == "A red square."


def test_a_free_text_answer_has_null_data(alice):
    request = make_completed(alice.user)
    body = alice.client.get(f"/api/media/status/{request.id}").json()
    assert body["result"]["data"] is None


def test_the_schema_documents_the_option_and_result_data(alice):
    schema = alice.client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    components = schema.json()["components"]["schemas"]
    assert "response_schema" in components["Options"]["properties"]
    assert "data" in components["Result"]["properties"]
