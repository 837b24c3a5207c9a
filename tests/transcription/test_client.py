"""The endpoint's failures: retried like a provider's, recorded when transcription
was not asked for, failing with ``transcription_failed`` when it was; the API key
is sent, but never written to a log or an error message."""

from __future__ import annotations

import logging

import pytest

from analysis.options import AnalysisOptions
from analysis.providers.base import ProviderRequest
from analysis.providers.prompting import TextPart, build_parts
from analysis.transcription.service import (
    TRANSCRIPTION_FAILED,
    TranscriptionFailed,
    transcribe_media,
)
from media_analysis.errors import InvalidRequest
from tests.transcription.server import API_KEY, Burst, make_bursts


@pytest.fixture
def speech(tmp_path):
    return make_bursts(tmp_path / "speech.wav", [Burst(0.5, 1.0, 440), Burst(2.0, 0.5, 880)], 3.0)


def test_503s_are_retried_then_the_transcript_comes(
    speech, tmp_path, transcription_settings, transcription_server
):
    transcription_server.fail_first = 2
    heard = transcribe_media(speech, "audio", tmp_path, requested=True)
    assert [s.text for s in heard.transcript.segments] == ["tone 440 Hz", "tone 880 Hz"]
    assert heard.note["attempts"] == 3
    assert transcription_server.auth_seen == [f"Bearer {API_KEY}"] * 3


def test_a_failure_is_recorded_when_not_asked_for(
    speech, tmp_path, transcription_settings, transcription_server
):
    transcription_server.status = 500
    heard = transcribe_media(speech, "audio", tmp_path, requested=None)
    assert heard.transcript is None
    assert heard.note["status"] == "failed"
    assert heard.note["code"] == "provider_unavailable"
    assert "failing on purpose" in heard.note["message"]
    assert transcription_server.calls == 4  # one try and three retries


def test_a_failure_fails_when_asked_for(
    speech, tmp_path, transcription_settings, transcription_server
):
    transcription_server.status = 400
    with pytest.raises(TranscriptionFailed) as raised:
        transcribe_media(speech, "audio", tmp_path, requested=True)
    assert raised.value.code == TRANSCRIPTION_FAILED
    assert raised.value.failure_metadata["transcription"]["code"] == "provider_bad_request"
    assert transcription_server.calls == 1  # a 400 is not retried


def test_the_api_key_never_reaches_a_log_or_a_message(
    speech, tmp_path, transcription_settings, transcription_server, caplog
):
    caplog.set_level(logging.DEBUG)
    transcription_settings.TRANSCRIPTION_API_KEY = API_KEY + "-wrong"
    heard = transcribe_media(speech, "audio", tmp_path, requested=None)
    assert heard.note["code"] == "provider_auth_failed"
    transcription_settings.TRANSCRIPTION_API_KEY = API_KEY
    transcription_server.fail_first = 1
    assert transcribe_media(speech, "audio", tmp_path, requested=None).transcript is not None
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "transcription" in logged  # the retry was logged...
    assert API_KEY not in logged  # ...without the key
    assert API_KEY not in str(heard.note)


def test_options_transcribe(settings):
    settings.TRANSCRIPTION_BASE_URL = None
    with pytest.raises(InvalidRequest) as raised:
        AnalysisOptions.parse({"transcribe": True})
    assert raised.value.field == "options.transcribe"
    assert "TRANSCRIPTION_BASE_URL" in raised.value.message
    assert AnalysisOptions.parse({"transcribe": False}).transcribe is False
    assert AnalysisOptions.parse({"transcribe": True}, stored=True).transcribe is True
    assert "transcribe" not in AnalysisOptions.parse({}).as_dict()
    with pytest.raises(InvalidRequest, match="true or false"):
        AnalysisOptions.parse({"transcribe": "yes"})
    settings.TRANSCRIPTION_BASE_URL = "http://127.0.0.1:9/v1"
    assert AnalysisOptions.parse({"transcribe": True}).as_dict()["transcribe"] is True


def test_the_prompt_carries_the_transcript_with_times_as_untrusted_data(
    speech, tmp_path, transcription_settings
):
    transcript = transcribe_media(speech, "audio", tmp_path, requested=True).transcript
    parts = build_parts(
        ProviderRequest(prompt="What is said?", transcript=transcript),
        include_audio=False,
        max_text_chars=10_000,
    )
    text = "\n".join(part.text for part in parts if isinstance(part, TextPart))
    assert "a transcript of the speech (2 segments)" in text
    assert "<<<UNTRUSTED_MEDIA_TRANSCRIPT id=" in text
    assert "[00:00.5-00:01.5] tone 440 Hz\n[00:02.0-00:02.5] tone 880 Hz" in text
