"""When an earlier answer is reused (``analysis/reuse.py``): only for the same
question. The key is compared directly for every input that changes what the
provider is given or asked, and through the pipeline (real PostgreSQL, real
media) for the options a caller sends."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analysis import services
from analysis.models import AnalysisRequest, AnalysisResult
from analysis.options import AnalysisOptions
from analysis.pipeline import run_analysis
from analysis.reuse import question_key
from analysis.transcription.types import Segment, Transcript
from tests.analysis.conftest import chunks_of

SCHEMA = {"type": "object", "properties": {"width": {"type": "integer"}}}
HEARD = Transcript(
    text="hello there",
    language="en",
    segments=(Segment(0.0, 1.2, "hello there"),),
    duration_s=1.5,
    model="whisper-1",
)


def _key(raw_options=None, **changes) -> str:
    question = {
        "media": "a" * 64,
        "prompt": "Describe it",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "options": AnalysisOptions.parse(raw_options, stored=True),
        "transcript": None,
    }
    return question_key(**{**question, **changes})


def test_the_same_question_has_the_same_key():
    assert _key() == _key()
    assert _key({"frames": 4, "ocr": True}) == _key({"ocr": True, "frames": 4})
    schema_reordered = {"properties": {"width": {"type": "integer"}}, "type": "object"}
    assert _key({"response_schema": SCHEMA}) == _key({"response_schema": schema_reordered})
    assert _key(transcript=HEARD) == _key(transcript=HEARD)


def test_force_is_not_part_of_the_question():
    # It says "ask again", not what to ask: the forced answer may serve others later.
    assert _key({"force": True}) == _key()


@pytest.mark.parametrize(
    "raw_options",
    [
        {"ocr": True},
        {"ocr": False},
        {"transcribe": False},
        {"transcribe": True},
        {"response_schema": SCHEMA},
        {"frames": 4},
        {"grid": "3x3"},
        {"resolution": "1280x720"},
    ],
    ids=lambda raw: ",".join(raw),
)
def test_each_option_that_changes_the_answer_changes_the_key(raw_options):
    assert _key(raw_options) != _key()


@pytest.mark.parametrize(
    "change",
    [
        {"media": "b" * 64},
        {"prompt": "Describe it."},
        {"provider": "openrouter"},
        {"model": "gpt-4o"},
        {"transcript": HEARD},
    ],
    ids=lambda change: next(iter(change)),
)
def test_each_input_that_changes_the_answer_changes_the_key(change):
    assert _key(**change) != _key()


def test_another_transcript_or_transcription_model_changes_the_key():
    other_words = Transcript(**{**HEARD.__dict__, "segments": (Segment(0, 1.2, "hullo there"),)})
    other_model = Transcript(**{**HEARD.__dict__, "model": "whisper-large-v3"})
    retried = Transcript(**{**HEARD.__dict__, "attempts": 3})
    assert _key(transcript=other_words) != _key(transcript=HEARD)
    assert _key(transcript=other_model) != _key(transcript=HEARD)
    assert _key(transcript=retried) == _key(transcript=HEARD)  # how it was fetched: same words


@pytest.mark.parametrize(
    "name, value",
    [
        ("OCR_ENABLED", False),  # ocr unset: images read or not
        ("OCR_MAX_IMAGES", 2),
        ("OCR_SECONDS_PER_IMAGE", 1.0),
        ("VIDEO_LOUDNESS_MAX_AUDIO_SECONDS", 60.0),
    ],
)
def test_settings_that_change_what_processing_hands_on_change_the_key(settings, name, value):
    before = _key()
    setattr(settings, name, value)
    assert _key() != before


@pytest.mark.parametrize(
    "knob, value", [("scene_scan_pixels", 1_000_000), ("silence_threshold_dbfs", -40.0)]
)
def test_every_processing_knob_takes_part(monkeypatch, knob, value):
    # Not caller options today, but processing options all the same: the key reads
    # every constructor field of ProcessingOptions, so a new knob cannot be missed.
    before = _key()
    original = AnalysisOptions.processing
    monkeypatch.setattr(
        AnalysisOptions, "processing", lambda self: replace(original(self), **{knob: value})
    )
    assert _key() != before


# --- through the pipeline -------------------------------------------------------------
pytestmark_db = pytest.mark.django_db(transaction=True)


def _upload(path, prompt="Describe it", **fields) -> AnalysisRequest:
    return services.submit_upload_request(
        chunks=chunks_of(path), original_filename=path.name, prompt=prompt, **fields
    )


def _answered_from(request: AnalysisRequest) -> str | None:
    assert run_analysis(request.id) == "completed"
    return AnalysisResult.objects.get(request=request).metadata.get("answered_from")


@pytestmark_db
def test_the_same_options_reuse_and_each_differing_option_does_not(storage_root, small_image):
    first = _upload(small_image, options={"ocr": False})
    assert _answered_from(first) is None

    assert _answered_from(_upload(small_image, options={"ocr": False})) == str(first.id)
    # Options that change what the provider is given: each asks anew.
    assert _answered_from(_upload(small_image)) is None  # OCR reads the image
    assert _answered_from(_upload(small_image, options={"ocr": False, "transcribe": False})) is None
    assert (
        _answered_from(_upload(small_image, options={"ocr": False, "resolution": "1280x720"}))
        is None
    )


@pytestmark_db
def test_a_video_with_other_frame_options_is_not_answered_from_the_store(storage_root, small_video):
    first = _upload(small_video)
    assert _answered_from(first) is None
    assert _answered_from(_upload(small_video)) == str(first.id)
    assert _answered_from(_upload(small_video, options={"frames": 4})) is None
    assert _answered_from(_upload(small_video, options={"grid": "3x3", "frames": 6})) is None
