"""One analysis end to end through the pipeline, run in-process (the Celery
end-to-end test is test_worker.py): real files, real PostgreSQL, the built-in
provider or a local HTTP server speaking the OpenAI wire format."""

from __future__ import annotations

import json

import pytest

from analysis import services
from analysis.models import AnalysisRequest, AnalysisResult
from analysis.pipeline import run_analysis
from storage_app.models import ContactSheet, MediaFile
from tests.analysis.conftest import chunks_of
from tests.conftest import force_status
from tests.processing.media_factory import truncate

pytestmark = pytest.mark.django_db(transaction=True)


def _upload(path, prompt="What is in this clip?", **fields) -> AnalysisRequest:
    return services.submit_upload_request(
        chunks=chunks_of(path), original_filename="../../holiday clip.MOV", prompt=prompt, **fields
    )


def test_a_video_upload_is_analysed_and_everything_recorded(storage_root, small_video):
    request = _upload(small_video)
    upload = MediaFile.objects.get(request=request, relative_path__endswith="/original.mp4")
    assert upload.relative_path.startswith("uploads/") and upload.relative_path.endswith(
        "/original.mp4"
    )
    assert upload.original_path == "../../holiday clip.MOV"  # kept, never used as a path

    assert run_analysis(request.id) == "completed"

    request.refresh_from_db()
    assert request.status == "completed"
    assert request.media_type == "video"
    assert request.started_at <= request.completed_at
    assert request.latency_ms > 0
    assert len(request.prompt_hash) == 64
    assert set(request.metadata["stages_ms"]) >= {
        "ingest",
        "process",
        "store_derivatives",
        "provider",
    }

    result = AnalysisResult.objects.get(request=request)
    assert result.provider == "builtin"
    assert "metadata" in result.result_text.lower()
    assert result.cost_usd == 0

    sheet = ContactSheet.objects.get(request=request)
    assert (sheet.frames_count, sheet.grid_layout, sheet.resolution) == (6, "2x3", "1920x1080")
    assert (storage_root / sheet.relative_path).stat().st_size == sheet.file_size_bytes

    paths = set(MediaFile.objects.filter(request=request).values_list("relative_path", flat=True))
    frames = sorted(p for p in paths if p.startswith("frames/"))
    assert [p.rsplit("/", 1)[1] for p in frames] == [f"frame_{i:03d}.jpg" for i in range(1, 7)]
    outputs = {p.rsplit("/", 1)[1] for p in paths if p.startswith("outputs/")}
    assert outputs == {"result.json", "summary.txt"}
    result_json = json.loads(next(storage_root.glob("outputs/*/*/result.json")).read_text())
    assert result_json["request_id"] == str(request.id)
    assert result_json["media"]["media_type"] == "video"
    assert not list((storage_root / "temp").glob("*/*"))  # work files cleaned up


def test_running_again_changes_nothing(storage_root, small_video):
    request = _upload(small_video)
    assert run_analysis(request.id) == "completed"
    files_before = MediaFile.objects.count()
    assert run_analysis(request.id) == "skipped"
    assert AnalysisResult.objects.filter(request=request).count() == 1
    assert MediaFile.objects.count() == files_before


def test_a_redelivered_task_after_a_worker_died_completes_once(storage_root, small_video):
    request = _upload(small_video)
    assert run_analysis(request.id) == "completed"
    # A worker that died after the first run's files were written but before it
    # committed looks like this: files on disk, status still processing, no result.
    AnalysisResult.objects.filter(request=request).delete()
    force_status(request.id, "processing")
    files_before = MediaFile.objects.count()

    assert run_analysis(request.id) == "completed"
    assert AnalysisResult.objects.filter(request=request).count() == 1
    assert ContactSheet.objects.filter(request=request).count() == 1
    assert MediaFile.objects.count() == files_before  # same paths, rows refreshed not added


def test_an_identical_request_is_answered_from_the_stored_result(storage_root, small_image):
    first = _upload(small_image, prompt="Describe it")
    assert run_analysis(first.id) == "completed"
    second = _upload(small_image, prompt="Describe it")
    assert run_analysis(second.id) == "completed"
    copy = AnalysisResult.objects.get(request=second)
    original = AnalysisResult.objects.get(request=first)
    assert copy.id != original.id
    assert copy.result_text == original.result_text
    assert copy.cost_usd == 0
    assert copy.metadata["answered_from"] == str(first.id)
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.prompt_hash == first.prompt_hash

    forced = _upload(small_image, prompt="Describe it", options={"force": True})
    assert run_analysis(forced.id) == "completed"
    assert "answered_from" not in AnalysisResult.objects.get(request=forced).metadata


def test_a_different_prompt_is_not_answered_from_the_store(storage_root, small_image):
    first = _upload(small_image, prompt="Describe it")
    run_analysis(first.id)
    other = _upload(small_image, prompt="Count the people")
    run_analysis(other.id)
    assert "answered_from" not in AnalysisResult.objects.get(request=other).metadata


def test_a_truncated_video_fails_as_truncated(storage_root, small_video, tmp_path):
    broken = truncate(small_video, tmp_path / "broken.mp4", 0.4)
    request = _upload(broken)
    assert run_analysis(request.id) == "failed"
    request.refresh_from_db()
    assert request.status == "failed"
    # Cut at 40 %, the MP4 has lost its index (written last): truncated, not corrupt.
    assert request.error_code == "media_truncated"
    assert request.error_message and "Traceback" not in request.error_message
    assert request.completed_at is not None
    assert not AnalysisResult.objects.filter(request=request).exists()


def test_unknown_content_fails_as_unsupported(storage_root, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 64)
    request = _upload(junk)
    assert run_analysis(request.id) == "failed"
    request.refresh_from_db()
    assert request.error_code == "unsupported_media"


def test_a_cancelled_request_is_not_recorded(storage_root, small_image):
    request = _upload(small_image)
    services.cancel_request(request.id)
    assert run_analysis(request.id) == "skipped"
    request.refresh_from_db()
    assert request.status == "cancelled"
    assert not AnalysisResult.objects.exists()


def test_media_by_url_is_downloaded_and_analysed(storage_root, small_image, httpserver, settings):
    settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = True
    httpserver.expect_request("/photo").respond_with_data(
        small_image.read_bytes(), content_type="application/octet-stream"
    )
    request = services.submit_url_request(
        media_url=httpserver.url_for("/photo?token=secret"), prompt="Describe"
    )
    assert run_analysis(request.id) == "completed"
    request.refresh_from_db()
    assert request.media_type == "image"  # from the content, not the served Content-Type
    upload = MediaFile.objects.get(request=request, relative_path__endswith="/original.jpg")
    assert upload.relative_path.startswith("uploads/")
    assert upload.size_bytes == small_image.stat().st_size


def test_a_download_that_fails_ends_as_failed_with_the_ingest_code(
    storage_root, httpserver, settings
):
    settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = True
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    request = services.submit_url_request(media_url=httpserver.url_for("/gone"), prompt="Describe")
    assert run_analysis(request.id) == "failed"
    request.refresh_from_db()
    assert request.error_code == "download_http_error"


def test_a_provider_over_http_records_tokens_cost_and_usage(
    storage_root, small_image, httpserver, settings
):
    settings.OPENAI_BASE_URL = httpserver.url_for("/v1")
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_MODEL = "gpt-4o-mini"
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        {
            "id": "c1",
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "A red square."},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1200, "completion_tokens": 10, "total_tokens": 1210},
        }
    )
    request = _upload(small_image, provider="openai")
    assert run_analysis(request.id) == "completed"
    result = AnalysisResult.objects.get(request=request)
    assert result.result_text == "A red square."
    assert (result.input_tokens, result.output_tokens) == (1200, 10)
    assert result.cost_usd is not None and result.cost_usd > 0
    assert result.metadata["usage"]["prompt_tokens"] == 1200
    body = json.loads(httpserver.log[0][0].get_data())
    image_parts = [
        p
        for m in body["messages"]
        for p in (m["content"] if isinstance(m["content"], list) else [])
        if p.get("type") == "image_url"
    ]
    assert image_parts and image_parts[0]["image_url"]["url"].startswith("data:image/")


def test_a_provider_refusal_fails_the_request_with_its_code(
    storage_root, small_image, httpserver, settings
):
    settings.OPENAI_BASE_URL = httpserver.url_for("/v1")
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_MODEL = "gpt-4o-mini"
    httpserver.expect_request("/v1/chat/completions").respond_with_json(
        {"error": {"message": "model not found"}}, status=400
    )
    request = _upload(small_image, provider="openai")
    assert run_analysis(request.id) == "failed"
    request.refresh_from_db()
    assert request.error_code == "provider_bad_request"
    assert "model not found" in request.error_message


def test_audio_goes_to_an_audio_model_as_input_audio(storage_root, httpserver, settings, tmp_path):
    from tests.processing.media_factory import make_audio

    settings.OPENAI_BASE_URL = httpserver.url_for("/v1")
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_MODEL = "gpt-4o-audio-preview"
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        {
            "model": "gpt-4o-audio-preview",
            "choices": [{"message": {"role": "assistant", "content": "A steady tone."}}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 4},
        }
    )
    tone = make_audio(tmp_path / "tone.wav", seconds=1.0)
    request = _upload(tone, provider="openai")
    assert run_analysis(request.id) == "completed"
    body = json.loads(httpserver.log[0][0].get_data())
    parts = [p for m in body["messages"] if isinstance(m["content"], list) for p in m["content"]]
    audio = [p for p in parts if p.get("type") == "input_audio"]
    assert audio and audio[0]["input_audio"]["format"] == "wav"
    request.refresh_from_db()
    assert request.media_type == "audio"
    assert request.metadata["facts"]  # loudness and friends were measured
