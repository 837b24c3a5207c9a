"""Structured answers (issue 13) over real HTTP: the OpenAI-compatible and Gemini
providers ask for JSON in their native wire formats against a local server, fall
back to the schema in the prompt where the model refuses the native mode, and
``structured.answer`` validates, repairs once, or fails with ``schema_mismatch``."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from analysis.providers import ProviderError, ProviderRequest
from analysis.providers.gemini import GeminiProvider
from analysis.providers.gemini import config_from_settings as gemini_config
from analysis.providers.structured import (
    SCHEMA_MISMATCH,
    AnswerProblem,
    SchemaMismatch,
    answer,
    parse_answer,
    validation_problem,
)
from tests.providers import sample_facts
from tests.providers.conftest import API_KEY
from tests.providers.test_openai_compatible import completion, provider_for, sent_bodies

CHAT = "/v1/chat/completions"
GENERATE = re.compile(r"^/v1(beta)?/models/gemini-2\.5-flash:generateContent$")
SCHEMA = {
    "title": "Clip summary",
    "type": "object",
    "properties": {
        "duration_seconds": {"type": "number"},
        "scene": {"type": "string", "enum": ["indoor", "outdoor"]},
    },
    "required": ["duration_seconds", "scene"],
    "additionalProperties": False,
}
GOOD = {"duration_seconds": 12.5, "scene": "outdoor"}
REQUEST = ProviderRequest(
    prompt="How long is it and where was it filmed?",
    facts=sample_facts.video_facts(seconds=12.5),
    response_schema=SCHEMA,
)


def user_text(body: dict) -> str:
    content = body["messages"][1]["content"]
    return "\n".join(part["text"] for part in content if part["type"] == "text")


# ------------------------------------------------------------ parse, validate
@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        '```json\n{"a": 1}\n```',
        '```\n{"a": 1}\n```',
        'Here is the JSON you asked for:\n```json\n{"a": 1}\n```\nAnything else?',
        'Sure. {"a": 1} That is all.',
    ],
)
def test_the_json_is_read_from_fences_and_prose(text):
    assert parse_answer(text) == {"a": 1}


def test_an_answer_without_json_is_a_problem():
    with pytest.raises(AnswerProblem, match="not JSON"):
        parse_answer("The clip shows a beach at dusk.")


def test_a_validation_problem_names_where_and_what():
    assert validation_problem(GOOD, SCHEMA) is None
    problem = validation_problem({"duration_seconds": "long", "scene": "outdoor"}, SCHEMA)
    assert problem == "at /duration_seconds: 'long' is not of type 'number'"
    assert "'scene' is a required property" in validation_problem({"duration_seconds": 1}, SCHEMA)


# --------------------------------------------------------- OpenAI-compatible
def test_openai_compatible_asks_with_response_format_json_schema(httpserver, settings, fast_retry):
    httpserver.expect_request(CHAT, method="POST").respond_with_json(
        completion(text=json.dumps(GOOD))
    )
    provider = provider_for("openai", httpserver, settings, fast_retry)

    answered = answer(provider.analyse, REQUEST)

    assert answered.data == GOOD and answered.repaired is False
    assert answered.result.structured_mode == "native"
    (body,) = sent_bodies(httpserver)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Clip_summary", "schema": SCHEMA, "strict": False},
    }
    text = user_text(body)
    assert "Answer format: a JSON value matching the JSON Schema supplied" in text
    assert '"enum"' not in text  # the schema travels in response_format, not twice


def test_no_response_format_without_a_schema(httpserver, settings, fast_retry):
    httpserver.expect_request(CHAT).respond_with_json(completion())
    provider = provider_for("openai", httpserver, settings, fast_retry)
    result = provider.analyse(ProviderRequest(prompt="Describe"))
    assert result.structured_mode is None
    body = sent_bodies(httpserver)[0]
    assert "response_format" not in body and "Answer format" not in user_text(body)


def test_a_refused_response_format_falls_back_to_the_schema_in_the_prompt(
    httpserver, settings, fast_retry, sleeps
):
    httpserver.expect_ordered_request(CHAT).respond_with_json(
        {
            "error": {
                "message": "Invalid parameter: 'response_format' of type 'json_schema' is "
                "not supported with this model.",
                "type": "invalid_request_error",
                "param": "response_format",
            }
        },
        status=400,
    )
    httpserver.expect_ordered_request(CHAT).respond_with_json(
        completion(text="Here it is:\n```json\n" + json.dumps(GOOD) + "\n```")
    )
    provider = provider_for("novita", httpserver, settings, fast_retry)

    answered = answer(provider.analyse, REQUEST)

    assert answered.data == GOOD
    assert answered.result.structured_mode == "prompt"
    assert answered.result.attempts == 2
    first, second = sent_bodies(httpserver)
    assert "response_format" in first and "response_format" not in second
    text = user_text(second)
    assert "reply with one JSON value that matches the JSON Schema below" in text
    assert json.dumps(SCHEMA, indent=1) in text  # the schema itself, in the prompt
    assert sleeps.waits == []


def test_another_bad_request_does_not_fall_back(httpserver, settings, fast_retry):
    httpserver.expect_request(CHAT).respond_with_json(
        {"error": {"message": "model not found"}}, status=400
    )
    provider = provider_for("openai", httpserver, settings, fast_retry)
    with pytest.raises(ProviderError) as caught:
        answer(provider.analyse, REQUEST)
    assert caught.value.code == "provider_bad_request"
    assert len(httpserver.log) == 1


def test_a_wrong_answer_is_repaired_once_with_the_problem_and_previous_answer(
    httpserver, settings, fast_retry
):
    usage = {"prompt_tokens": 1000, "completion_tokens": 100}
    httpserver.expect_ordered_request(CHAT).respond_with_json(
        completion(text='{"duration_seconds": "12.5 s", "scene": "outdoor"}', usage=usage)
    )
    httpserver.expect_ordered_request(CHAT).respond_with_json(
        completion(text=json.dumps(GOOD), usage=usage)
    )
    provider = provider_for("openai", httpserver, settings, fast_retry)

    answered = answer(provider.analyse, REQUEST)

    assert answered.data == GOOD and answered.repaired is True
    assert answered.first_problem == "at /duration_seconds: '12.5 s' is not of type 'number'"
    # Both asks are counted: gpt-4o-mini at $0.15/M in and $0.60/M out, twice.
    assert (answered.result.input_tokens, answered.result.output_tokens) == (2000, 200)
    assert answered.result.cost_usd == Decimal("0.000420")
    first, second = sent_bodies(httpserver)
    assert "did not match" not in user_text(first)
    repair = user_text(second)
    assert "did not match the JSON Schema: at /duration_seconds: '12.5 s' is not of type" in repair
    start = repair.index("<<<UNTRUSTED_MEDIA_PREVIOUS_ANSWER id=")
    end = repair.index("<<<END_UNTRUSTED_MEDIA_PREVIOUS_ANSWER id=")
    assert start < repair.index('"12.5 s"') < end
    assert second["response_format"] == first["response_format"]


def test_two_wrong_answers_fail_with_schema_mismatch_and_keep_both(
    httpserver, settings, fast_retry
):
    httpserver.expect_ordered_request(CHAT).respond_with_json(completion(text="About 12 seconds."))
    httpserver.expect_ordered_request(CHAT).respond_with_json(
        completion(text='{"duration_seconds": 12.5, "scene": "underwater"}')
    )
    provider = provider_for("openai", httpserver, settings, fast_retry)

    with pytest.raises(SchemaMismatch) as caught:
        answer(provider.analyse, REQUEST)

    failure = caught.value
    assert failure.code == SCHEMA_MISMATCH
    assert "after one repair attempt" in failure.message
    assert "at /scene: 'underwater' is not one of ['indoor', 'outdoor']" in failure.message
    assert '"scene": "underwater"' in failure.message  # the raw answer, in the message too
    kept = failure.failure_metadata[SCHEMA_MISMATCH]
    assert kept["answers"] == [
        "About 12 seconds.",
        '{"duration_seconds": 12.5, "scene": "underwater"}',
    ]
    assert kept["input_tokens"] == 2000 and kept["cost_usd"] is not None
    assert len(httpserver.log) == 2  # one repair, no more


# ---------------------------------------------------------------------- Gemini
def gemini_answer(text: str) -> dict:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": {"promptTokenCount": 500, "candidatesTokenCount": 20},
        "modelVersion": "gemini-2.5-flash",
    }


@pytest.fixture
def gemini(httpserver, settings, fast_retry) -> GeminiProvider:
    settings.GEMINI_API_KEY = API_KEY
    settings.GEMINI_BASE_URL = httpserver.url_for("/")
    return GeminiProvider(gemini_config(), retry_policy=fast_retry)


def gemini_bodies(httpserver) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in httpserver.log]


def test_gemini_asks_with_response_json_schema(gemini, httpserver):
    httpserver.expect_request(GENERATE, method="POST").respond_with_json(
        gemini_answer(json.dumps(GOOD))
    )

    answered = answer(gemini.analyse, REQUEST)

    assert answered.data == GOOD and answered.result.structured_mode == "native"
    (body,) = gemini_bodies(httpserver)
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == SCHEMA
    assert "responseSchema" not in config  # the OpenAPI subset is not used


def test_gemini_without_a_schema_asks_for_text(gemini, httpserver):
    httpserver.expect_request(GENERATE).respond_with_json(gemini_answer("A beach."))
    assert gemini.analyse(ProviderRequest(prompt="Describe")).text == "A beach."
    config = gemini_bodies(httpserver)[0]["generationConfig"]
    assert "responseJsonSchema" not in config and "responseMimeType" not in config


def test_gemini_refusing_the_schema_falls_back_to_the_prompt(gemini, httpserver, sleeps):
    httpserver.expect_ordered_request(GENERATE).respond_with_json(
        {
            "error": {
                "code": 400,
                "message": 'Invalid JSON payload received. Unknown name "responseJsonSchema" '
                "at 'generation_config': Cannot find field.",
                "status": "INVALID_ARGUMENT",
            }
        },
        status=400,
    )
    httpserver.expect_ordered_request(GENERATE).respond_with_json(
        gemini_answer("```json\n" + json.dumps(GOOD) + "\n```")
    )

    answered = answer(gemini.analyse, REQUEST)

    assert answered.data == GOOD and answered.result.structured_mode == "prompt"
    first, second = gemini_bodies(httpserver)
    assert "responseJsonSchema" in first["generationConfig"]
    assert "responseJsonSchema" not in second["generationConfig"]
    texts = "\n".join(p["text"] for p in second["contents"][0]["parts"] if "text" in p)
    assert "matches the JSON Schema below" in texts and '"required"' in texts
    assert sleeps.waits == []


def test_gemini_wrong_answer_is_repaired_once(gemini, httpserver):
    httpserver.expect_ordered_request(GENERATE).respond_with_json(
        gemini_answer('{"duration_seconds": 12.5}')
    )
    httpserver.expect_ordered_request(GENERATE).respond_with_json(gemini_answer(json.dumps(GOOD)))

    answered = answer(gemini.analyse, REQUEST)

    assert answered.repaired is True and answered.data == GOOD
    assert answered.result.input_tokens == 1000
    second = gemini_bodies(httpserver)[1]
    texts = "\n".join(p["text"] for p in second["contents"][0]["parts"] if "text" in p)
    assert "'scene' is a required property" in texts
