"""Transcripts end to end, in-process on real files with real PostgreSQL and Redis:
the transcription endpoint is the local wire-format server, the model a local
OpenAI-compatible chat server. A speech clip's transcript reaches the prompt, the
status response, outputs/ and the built-in report; a failure is recorded, or fails
the request when transcription was asked for; without an endpoint, asking is a 400."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from analysis import services
from analysis.models import AnalysisRequest, AnalysisResult
from analysis.pipeline import run_analysis
from storage_app.models import MediaFile
from tests.analysis.conftest import chunks_of
from tests.api.conftest import make_caller
from tests.transcription.server import API_KEY, Burst, make_bursts

pytestmark = pytest.mark.django_db(transaction=True)

BURSTS = [Burst(0.5, 1.0, 440), Burst(2.0, 0.6, 880)]
TIMED = "[00:00.5-00:01.5] tone 440 Hz\n[00:02.0-00:02.6] tone 880 Hz"


@pytest.fixture
def speech(tmp_path):
    return make_bursts(tmp_path / "speech.wav", BURSTS, 3.0)


@pytest.fixture
def chat_server(httpserver, settings):
    settings.OPENAI_BASE_URL = httpserver.url_for("/v1")
    settings.OPENAI_API_KEY = "sk-chat-test"
    settings.OPENAI_MODEL = "gpt-4o-mini"
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        {
            "model": "gpt-4o-mini",
            "choices": [{"message": {"role": "assistant", "content": "Two tones are heard."}}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 50},
        }
    )
    return httpserver


def _upload(path, owner=None, **fields) -> AnalysisRequest:
    return services.submit_upload_request(
        chunks=chunks_of(path), original_filename=path.name, prompt="What is said?",
        owner=owner, **fields,
    )  # fmt: skip


def _chat_text(server) -> str:
    body = json.loads(server.log[0][0].get_data())
    content = body["messages"][1]["content"]
    return "\n".join(part["text"] for part in content if part["type"] == "text")


def test_a_speech_clip_reaches_the_prompt_the_status_and_outputs(
    speech, storage_root, transcription_settings, chat_server
):
    transcription_settings.TRANSCRIPTION_PRICE_PER_MINUTE_USD = 0.6  # 3 s: $0.03
    caller = make_caller("listener")
    request = _upload(speech, owner=caller.user, provider="openai")

    assert run_analysis(request.id) == "completed"

    prompt = _chat_text(chat_server)
    assert TIMED in prompt and "UNTRUSTED_MEDIA_TRANSCRIPT" in prompt

    status = caller.client.get(f"/api/media/status/{request.id}").json()
    assert status["transcript"]["text"] == "tone 440 Hz tone 880 Hz"
    assert status["transcript"]["language"] == "english"
    assert [(s["start"], s["end"]) for s in status["transcript"]["segments"]] == [
        (0.5, 1.5),
        (2.0, 2.6),
    ]

    (folder,) = {p.parent for p in storage_root.glob(f"outputs/*/{request.id}/*")}
    stored = json.loads((folder / "transcript.json").read_text())
    assert stored == status["transcript"]
    vtt = (folder / "transcript.vtt").read_text()
    assert "00:00:02.000 --> 00:00:02.600\ntone 880 Hz" in vtt
    assert json.loads((folder / "result.json").read_text())["transcript"] == stored
    mimes = set(MediaFile.objects.filter(request_id=request.id).values_list("mime_type", flat=True))
    assert {"application/json", "text/vtt"} <= mimes

    result = AnalysisResult.objects.get(request=request)
    note = result.metadata["transcription"]
    assert note["status"] == "completed" and note["cost_usd"] == "0.030000"
    provider_cost = Decimal("0.000180")  # gpt-4o-mini: 1000 in, 50 out (price table)
    assert result.cost_usd == provider_cost + Decimal("0.03")


def test_the_builtin_report_quotes_the_transcript(speech, storage_root, transcription_settings):
    request = _upload(speech, provider="builtin")
    assert run_analysis(request.id) == "completed"
    report = AnalysisResult.objects.get(request=request).result_text
    assert "Transcript (2 segment(s), language english" in report
    assert '- [00:00.5-00:01.5] "tone 440 Hz"' in report
    assert '- [00:02.0-00:02.6] "tone 880 Hz"' in report


def test_a_failure_is_recorded_and_the_analysis_completes(
    speech, storage_root, transcription_settings, transcription_server
):
    transcription_server.status = 500
    request = _upload(speech)
    assert run_analysis(request.id) == "completed"
    request.refresh_from_db()
    assert request.metadata["transcription"]["code"] == "provider_unavailable"
    assert "transcript" not in request.metadata
    assert not list(storage_root.glob(f"outputs/*/{request.id}/transcript.*"))


def test_a_failure_fails_the_request_when_transcription_was_asked_for(
    speech, storage_root, transcription_settings, transcription_server, caplog
):
    caplog.set_level(logging.DEBUG)
    transcription_server.status = 502
    request = _upload(speech, options={"transcribe": True})
    assert run_analysis(request.id) == "failed"
    request.refresh_from_db()
    assert request.error_code == "transcription_failed"
    assert "failing on purpose" in request.error_message
    assert request.metadata["transcription"]["status"] == "failed"
    assert not AnalysisResult.objects.filter(request=request).exists()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert API_KEY not in logged and API_KEY not in json.dumps(request.metadata)


def test_transcribe_false_skips_it(
    speech, storage_root, transcription_settings, transcription_server
):
    request = _upload(speech, options={"transcribe": False})
    assert run_analysis(request.id) == "completed"
    assert transcription_server.calls == 0
    request.refresh_from_db()
    assert request.metadata["transcription"]["status"] == "skipped"


def test_transcribe_true_without_an_endpoint_is_a_400_naming_the_setting(
    speech, storage_root, settings
):
    settings.TRANSCRIPTION_BASE_URL = None
    caller = make_caller("asker")
    response = caller.client.post(
        "/api/media/analyze",
        {
            "file": SimpleUploadedFile("speech.wav", speech.read_bytes(), "audio/wav"),
            "prompt": "What is said?",
            "options": json.dumps({"transcribe": True}),
        },
        format="multipart",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "transcription_not_configured"
    assert error["field"] == "options.transcribe"
    assert "TRANSCRIPTION_BASE_URL" in error["message"]
    assert not AnalysisRequest.objects.exists()
