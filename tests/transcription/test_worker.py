"""A video's sound track transcribed end to end by a real Celery worker (consuming
from real Redis, writing to real PostgreSQL), the endpoint a local server speaking
the /audio/transcriptions wire format."""

from __future__ import annotations

import time

import pytest

from analysis import services
from analysis.models import AnalysisRequest, AnalysisResult
from tests.analysis.conftest import chunks_of
from tests.processing.media_factory import make_video

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_video_sound_track_is_transcribed_by_the_worker(
    tmp_path, storage_root, transcription_settings, transcription_server, celery_worker
):
    video = make_video(tmp_path / "talk.mp4", seconds=3.0)
    request = services.submit_upload_request(
        chunks=chunks_of(video),
        original_filename="talk.mp4",
        prompt="What is said?",
        options={"transcribe": True},
    )
    deadline = time.monotonic() + 60
    while (done := AnalysisRequest.objects.get(pk=request.id)).status not in (
        "completed",
        "failed",
    ):
        assert time.monotonic() < deadline, f"request stayed {done.status}"
        time.sleep(0.2)

    assert done.status == "completed", (done.error_code, done.error_message)
    assert done.metadata["transcript"]["text"] == "tone 440 Hz"
    assert done.metadata["stages_ms"]["transcribe"] >= 0
    report = AnalysisResult.objects.get(request=done).result_text
    assert '"tone 440 Hz"' in report
    assert list(storage_root.glob(f"outputs/*/{done.id}/transcript.vtt"))
    assert len(transcription_server.uploads) == 1
