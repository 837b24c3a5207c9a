"""A video's sound-track loudness through the pipeline (issue 13), on real videos
made with PyAV, real PostgreSQL and, for the end-to-end test, a real Celery
worker and the HTTP API: the levels reach the stored facts, outputs/ result.json,
a model's prompt, the built-in report and the status response (its report, and
``result.data`` for a schema asking for them). A video without sound gets no
loudness and no error; a failing meter is recorded, not fatal."""

from __future__ import annotations

import json
import re
import time

import pytest

from analysis import services
from analysis.models import AnalysisRequest, AnalysisResult
from analysis.pipeline import run_analysis
from tests.analysis.conftest import chunks_of
from tests.api.conftest import make_caller
from tests.processing.media_factory import make_video

pytestmark = pytest.mark.django_db(transaction=True)

HALF_SCALE_SINE_PEAK = -6.02
TONE_HALF_THE_TIME_RMS = -12.04  # -9.03 dBFS over half the time, silence the rest


@pytest.fixture(scope="module")
def tone_then_silence(tmp_path_factory):
    path = tmp_path_factory.mktemp("sound") / "tone_then_silence.mp4"
    return make_video(path, seconds=4.0, audio_silent_seconds=2.0)


def _upload(path, prompt="How loud is it?", **fields) -> AnalysisRequest:
    return services.submit_upload_request(
        chunks=chunks_of(path), original_filename=path.name, prompt=prompt, **fields
    )


def _report_level(report: str, label: str) -> float:
    match = re.search(rf"- {label}: (-?\d+\.\d) dBFS", report)
    assert match, f"no {label} line in the report:\n{report}"
    return float(match[1])


def test_the_levels_reach_facts_outputs_and_the_built_in_report(storage_root, tone_then_silence):
    request = _upload(tone_then_silence)

    assert run_analysis(request.id) == "completed"

    request.refresh_from_db()
    loudness = request.metadata["facts"]["loudness"]
    assert loudness["peak_dbfs"] == pytest.approx(HALF_SCALE_SINE_PEAK, abs=0.6)
    assert loudness["rms_dbfs"] == pytest.approx(TONE_HALF_THE_TIME_RMS, abs=0.6)
    assert loudness["silence_ratio"] == pytest.approx(0.5, abs=0.05)
    assert request.metadata["sound_track_loudness"]["status"] == "completed"
    assert request.metadata["stages_ms"]["loudness"] >= 0
    (result_json,) = storage_root.glob(f"outputs/*/{request.id}/result.json")
    assert json.loads(result_json.read_text())["facts"]["loudness"] == loudness

    report = AnalysisResult.objects.get(request=request).result_text
    assert _report_level(report, "Peak level") == pytest.approx(loudness["peak_dbfs"], abs=0.05)
    assert _report_level(report, "RMS level") == pytest.approx(loudness["rms_dbfs"], abs=0.05)
    assert f"- Silence: {loudness['silence_ratio'] * 100:.1f} % of the time" in report
    assert "the sound track's peak and RMS levels" in report  # the honesty note says so


def test_a_video_without_sound_gets_no_loudness_and_no_error(storage_root, tmp_path):
    request = _upload(make_video(tmp_path / "mute.mp4", with_audio=False))

    assert run_analysis(request.id) == "completed"

    request.refresh_from_db()
    assert request.error_code is None
    assert "loudness" not in request.metadata["facts"]
    assert "sound_track_loudness" not in request.metadata
    assert "loudness" not in request.metadata["stages_ms"]
    report = AnalysisResult.objects.get(request=request).result_text
    assert (
        "Peak level" not in report and "Asked about loudness: processing measured nothing" in report
    )


def test_a_failing_meter_is_recorded_and_the_analysis_completes(
    storage_root, tone_then_silence, settings
):
    # No work allowed at all: the meter stops before the first packet, and a
    # track of which nothing was measured is a failure of this step alone.
    settings.VIDEO_LOUDNESS_SECONDS = 0.0
    request = _upload(tone_then_silence)

    assert run_analysis(request.id) == "completed"

    request.refresh_from_db()
    note = request.metadata["sound_track_loudness"]
    assert note["status"] == "failed" and note["code"] == "processing_failed"
    assert "loudness" not in request.metadata["facts"]
    assert request.metadata["facts"]["audio"]["codec"] == "aac"  # probed all the same


def test_the_levels_reach_a_model_s_prompt(storage_root, tone_then_silence, httpserver, settings):
    settings.OPENAI_BASE_URL = httpserver.url_for("/v1")
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_MODEL = "gpt-4o-mini"
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        {
            "model": "gpt-4o-mini",
            "choices": [{"message": {"role": "assistant", "content": "A tone, then quiet."}}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 5},
        }
    )
    request = _upload(tone_then_silence, provider="openai")

    assert run_analysis(request.id) == "completed"

    request.refresh_from_db()
    (call,) = [entry for entry, _ in httpserver.log]
    user_text = "\n".join(
        part["text"]
        for message in call.get_json()["messages"]
        if message["role"] == "user"
        for part in (
            message["content"]
            if isinstance(message["content"], list)
            else [{"type": "text", "text": message["content"]}]
        )
        if part.get("type") == "text"
    )
    start = user_text.index("<<<UNTRUSTED_MEDIA_FACTS id=")
    end = user_text.index("<<<END_UNTRUSTED_MEDIA_FACTS id=")
    shown = json.loads(user_text[start:end].split("\n", 1)[1])  # the facts block's JSON
    assert shown["loudness"] == request.metadata["facts"]["loudness"]
    assert shown["loudness"]["silence_ratio"] == pytest.approx(0.5, abs=0.05)


# --- end to end: a real Celery worker, the HTTP API ------------------------------------
SCHEMA = {
    "type": "object",
    "properties": {
        "peak_dbfs": {"type": "number"},
        "rms_dbfs": {"type": "number"},
        "silence_ratio": {"type": "number"},
    },
    "required": ["peak_dbfs", "rms_dbfs", "silence_ratio"],
}


def _submit(client, path, **fields) -> str:
    with path.open("rb") as handle:
        response = client.post(
            "/api/media/analyze",
            {"file": handle, "prompt": "How loud is the sound track?", **fields},
            format="multipart",
        )
    assert response.status_code == 202, response.content
    return response.json()["links"]["status"]


def _wait_for_completion(client, status_url: str, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(status_url).json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"{status_url} stayed {body['status']}")


@pytest.mark.slow
def test_a_worker_measures_the_sound_track_and_the_status_shows_it(
    storage_root, tone_then_silence, celery_worker
):
    client = make_caller("listener").client
    plain_url = _submit(client, tone_then_silence)
    schema_url = _submit(client, tone_then_silence, options=json.dumps({"response_schema": SCHEMA}))

    plain = _wait_for_completion(client, plain_url)
    shaped = _wait_for_completion(client, schema_url)

    assert plain["status"] == "completed", plain["error"]
    assert shaped["status"] == "completed", shaped["error"]
    report = plain["result"]["text"]
    assert _report_level(report, "Peak level") == pytest.approx(HALF_SCALE_SINE_PEAK, abs=0.6)
    assert _report_level(report, "RMS level") == pytest.approx(TONE_HALF_THE_TIME_RMS, abs=0.6)
    assert re.search(r"- Silence: (4[5-9]|5[0-5])\.\d % of the time", report), report
    data = shaped["result"]["data"]
    assert data["peak_dbfs"] == pytest.approx(HALF_SCALE_SINE_PEAK, abs=0.6)
    assert data["rms_dbfs"] == pytest.approx(TONE_HALF_THE_TIME_RMS, abs=0.6)
    assert data["silence_ratio"] == pytest.approx(0.5, abs=0.05)
    stored = AnalysisRequest.objects.get(pk=plain["id"]).metadata["facts"]["loudness"]
    assert data["peak_dbfs"] == stored["peak_dbfs"]
