"""Structured answers through the pipeline (issue 13), run in-process on real files
with real PostgreSQL: a local HTTP server speaks the OpenAI wire format, or the
built-in provider fills the schema from measured facts. Valid data is stored with
the result and in outputs/.../result.json; a wrong answer is repaired once, then
the request fails with ``schema_mismatch`` and the raw answers are kept."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from analysis import services
from analysis.models import AnalysisRequest, AnalysisResult
from analysis.pipeline import run_analysis
from tests.analysis.conftest import chunks_of

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMA = {
    "type": "object",
    "properties": {
        "colour": {"type": "string", "enum": ["red", "green", "blue", "other"]},
        "objects": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["colour", "objects"],
}
GOOD = {"colour": "red", "objects": ["square"]}


def _upload(path, schema=SCHEMA, prompt="What colour is it?", **fields) -> AnalysisRequest:
    return services.submit_upload_request(
        chunks=chunks_of(path),
        original_filename=path.name,
        prompt=prompt,
        options={"response_schema": schema},
        **fields,
    )


@pytest.fixture
def openai_server(httpserver, settings):
    settings.OPENAI_BASE_URL = httpserver.url_for("/v1")
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_MODEL = "gpt-4o-mini"
    settings.PROVIDER_RETRY_BASE_DELAY = 0.01
    return httpserver


def _answers(server, *texts: str) -> None:
    for text in texts:
        server.expect_ordered_request("/v1/chat/completions", method="POST").respond_with_json(
            {
                "model": "gpt-4o-mini",
                "choices": [{"message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 1000, "completion_tokens": 50},
            }
        )


def _result_json(storage_root, request) -> dict:
    (path,) = storage_root.glob(f"outputs/*/{request.id}/result.json")
    return json.loads(path.read_text())


def test_a_valid_answer_is_stored_as_data_and_written_to_outputs(
    storage_root, small_image, openai_server
):
    _answers(openai_server, json.dumps(GOOD))
    request = _upload(small_image, provider="openai")

    assert run_analysis(request.id) == "completed"

    result = AnalysisResult.objects.get(request=request)
    assert result.data == GOOD
    assert result.metadata["structured"] == {
        "mode": "native",
        "repaired": False,
        "first_problem": None,
    }
    assert _result_json(storage_root, request)["data"] == GOOD
    body = json.loads(openai_server.log[0][0].get_data())
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA


def test_a_wrong_answer_is_repaired_once(storage_root, small_image, openai_server):
    _answers(openai_server, '{"colour": "crimson", "objects": ["square"]}', json.dumps(GOOD))
    request = _upload(small_image, provider="openai")

    assert run_analysis(request.id) == "completed"

    result = AnalysisResult.objects.get(request=request)
    assert result.data == GOOD
    assert result.metadata["structured"]["repaired"] is True
    assert "'crimson' is not one of" in result.metadata["structured"]["first_problem"]
    assert (result.input_tokens, result.output_tokens) == (2000, 100)  # both asks
    assert len(openai_server.log) == 2


def test_two_wrong_answers_fail_with_schema_mismatch_and_keep_the_raw_answers(
    storage_root, small_image, openai_server
):
    first, second = "It is red.", '{"colour": "red"}'
    _answers(openai_server, first, second)
    request = _upload(small_image, provider="openai")

    assert run_analysis(request.id) == "failed"

    request.refresh_from_db()
    assert request.error_code == "schema_mismatch"
    assert "'objects' is a required property" in request.error_message
    assert second in request.error_message
    kept = request.metadata["schema_mismatch"]
    assert kept["answers"] == [first, second]
    assert kept["provider"] == "openai" and kept["input_tokens"] == 2000
    assert not AnalysisResult.objects.filter(request=request).exists()
    assert not list(storage_root.glob(f"outputs/*/{request.id}/result.json"))
    assert len(openai_server.log) == 2  # one repair attempt, no more


def test_the_builtin_provider_fills_the_schema_from_measured_facts(storage_root, small_image):
    schema = {
        "type": "object",
        "properties": {
            "width": {"type": "integer"},
            "height": {"type": "integer"},
            "mediaType": {"type": "string"},
            "caption": {"type": "string"},
        },
        "required": ["width", "height"],
    }
    request = _upload(small_image, schema=schema, prompt="Size?")

    assert run_analysis(request.id) == "completed"

    result = AnalysisResult.objects.get(request=request)
    with Image.open(small_image) as image:
        width, height = image.size
    assert result.data == {"width": width, "height": height, "mediaType": "image"}
    assert "Could not fill (nothing measured matches): caption" in result.result_text
    assert result.metadata["structured"]["mode"] == "facts"
    assert _result_json(storage_root, request)["data"] == result.data


def test_the_builtin_provider_fails_when_a_required_field_cannot_be_filled(
    storage_root, small_image
):
    schema = {
        "type": "object",
        "properties": {"caption": {"type": "string"}},
        "required": ["caption"],
    }
    request = _upload(small_image, schema=schema, prompt="Caption it")

    assert run_analysis(request.id) == "failed"

    request.refresh_from_db()
    assert request.error_code == "schema_unfillable"
    assert "caption" in request.error_message and request.error_message.startswith("builtin: ")


def test_an_earlier_answer_is_reused_only_for_the_same_schema(storage_root, small_image):
    schema = {"type": "object", "properties": {"width": {"type": "integer"}}}
    first = _upload(small_image, schema=schema, prompt="Width?")
    assert run_analysis(first.id) == "completed"

    same = _upload(small_image, schema=schema, prompt="Width?")
    assert run_analysis(same.id) == "completed"
    copy = AnalysisResult.objects.get(request=same)
    assert copy.metadata["answered_from"] == str(first.id)
    assert copy.data == AnalysisResult.objects.get(request=first).data

    other_schema = {"type": "object", "properties": {"height": {"type": "integer"}}}
    other = _upload(small_image, schema=other_schema, prompt="Width?")
    assert run_analysis(other.id) == "completed"
    answered = AnalysisResult.objects.get(request=other)
    assert "answered_from" not in answered.metadata
    assert set(answered.data) == {"height"}

    free_text = services.submit_upload_request(
        chunks=chunks_of(small_image), original_filename="photo.jpg", prompt="Width?"
    )
    assert run_analysis(free_text.id) == "completed"
    plain = AnalysisResult.objects.get(request=free_text)
    assert "answered_from" not in plain.metadata and plain.data is None
