"""Typed facts: one class per media type, and ``as_dict()`` with the keys stored
today (the request's metadata, result.json, the facts a model is shown)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.processing import process_media
from analysis.processing.facts import (
    AudioFacts,
    DocumentFacts,
    DocxFacts,
    HtmlFacts,
    ImageFacts,
    PdfFacts,
    PlainTextFacts,
    VideoFacts,
)
from tests.processing import media_factory as make

CONTAINER_KEYS = [
    "container",
    "container_long_name",
    "duration_s",
    "bit_rate",
    "size_bytes",
    "stream_count",
]
# The keys of each media type's facts, in the order they are written: the shape
# stored in metadata["facts"] and result.json. Changing it changes stored data.
TOP_LEVEL_KEYS = {
    "video": [
        *CONTAINER_KEYS,
        "video",
        "video_stream_count",
        "audio",
        "audio_stream_count",
        "frames",
        "frames_requested",
        "frames_decoded_past_keyframe",
        "decode_errors",
        "frames_skipped_as_repeats",
        "truncated",
        "contact_sheet",
        "timings_ms",
        "detected",
        "frame_selection",
    ],
    "audio": [
        *CONTAINER_KEYS,
        "audio",
        "audio_stream_count",
        "decoded_duration_s",
        "decode_errors",
        "truncated",
        "loudness",
        "waveform",
        "timings_ms",
        "detected",
    ],
    "image": [
        "format",
        "mime_type",
        "mode",
        "width",
        "height",
        "orientation",
        "display_width",
        "display_height",
        "has_alpha",
        "animated",
        "frame_count",
        "has_icc_profile",
        "size_bytes",
        "exif",
        "timings_ms",
        "normalized",
        "detected",
    ],
}
DOCUMENT_DETAIL_KEYS = {
    "pdf": [
        "page_count",
        "pages_examined",
        "pages_with_text",
        "pages_without_text",
        "rendered_pages",
        "page_errors",
        "render_errors",
        "encrypted",
        "complete",
        "pdf_version",
        "metadata",
    ],
    "docx": ["paragraphs", "tables", "embedded_media"],
    "html": ["encoding", "title", "lang"],
    "markdown": ["encoding"],
    "text": ["encoding"],
}
DOCUMENT_TAIL_KEYS = [
    "text_truncated",
    "max_text_chars",
    "stats",
    "excerpt",
    "timings_ms",
    "detected",
]
NESTED_KEYS = {
    "video": {
        "video": [
            "codec",
            "codec_long_name",
            "profile",
            "width",
            "height",
            "pix_fmt",
            "frame_rate",
            "frame_count",
            "bit_rate",
            "duration_s",
            "sample_aspect_ratio",
        ],
        "audio": [
            "codec",
            "codec_long_name",
            "sample_rate",
            "channels",
            "channel_layout",
            "sample_format",
            "bit_rate",
            "duration_s",
        ],
        "contact_sheet": ["path", "frames_count", "grid_layout", "resolution", "size_bytes"],
        "detected": ["media_type", "mime_type", "extension", "detail"],
    },
    "audio": {
        "loudness": [
            "peak_dbfs",
            "rms_dbfs",
            "silence_ratio",
            "silence_threshold_dbfs",
            "window_ms",
            "windows",
        ],
        "waveform": ["path", "size"],
    },
    "image": {"normalized": ["path", "width", "height", "size_bytes"]},
    "pdf": {
        "stats": [
            "chars",
            "non_whitespace_chars",
            "words",
            "lines",
            "non_empty_lines",
            "paragraphs",
        ]
    },
}
FACTS_CLASS = {
    "video": VideoFacts,
    "audio": AudioFacts,
    "image": ImageFacts,
    "pdf": DocumentFacts,
    "docx": DocumentFacts,
    "html": DocumentFacts,
    "markdown": DocumentFacts,
    "text": DocumentFacts,
}
DETAILS_CLASS = {
    "pdf": PdfFacts,
    "docx": DocxFacts,
    "html": HtmlFacts,
    "markdown": PlainTextFacts,
    "text": PlainTextFacts,
}


# The kinds whose pictures OCR reads by default: the image, the PDF's text-less page.
OCR_READ = {"image", "pdf"}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    root = tmp_path_factory.mktemp("facts")
    files = make.make_one_of_each(root / "media")
    return {kind: process_media(path, None, root / "out" / kind) for kind, path in files.items()}


@pytest.mark.parametrize("kind", list(FACTS_CLASS))
def test_each_type_has_its_facts_class_and_stored_keys(outcomes, kind):
    facts = outcomes[kind].facts
    assert type(facts) is FACTS_CLASS[kind]
    stored = facts.as_dict()
    if kind in TOP_LEVEL_KEYS:
        expected = TOP_LEVEL_KEYS[kind]
    else:
        assert type(facts.details) is DETAILS_CLASS[kind]
        expected = ["format", "size_bytes", *DOCUMENT_DETAIL_KEYS[kind], *DOCUMENT_TAIL_KEYS]
    if kind in OCR_READ:
        expected = [*expected, "ocr"]  # text in pictures, read by default (issue 13)
    assert list(stored) == expected
    for key, keys in NESTED_KEYS.get(kind, {}).items():
        assert list(stored[key]) == keys, key
    assert json.loads(json.dumps(stored)) == stored
    # Stored JSON and attributes say the same thing.
    assert stored["timings_ms"] == dict(facts.timings_ms)
    assert stored["detected"] == facts.detected.as_facts()


def test_frames_and_pages_are_lists_in_the_json(outcomes):
    video = outcomes["video"].facts
    frames = video.as_dict()["frames"]
    assert [frame["time_s"] for frame in frames] == [frame.time_s for frame in video.frames]
    # ``scene`` joins them when frames are chosen by scene (this clip is spread evenly).
    assert set(frames[0]) == {"path", "time_s", "keyframe", "width", "height", "index"}
    assert [frame["index"] for frame in frames] == list(range(1, len(frames) + 1))
    pdf = outcomes["pdf"].facts.as_dict()
    assert pdf["pages_without_text"] == [3] and pdf["rendered_pages"] == [3]


def test_optional_facts_appear_only_once_set(outcomes):
    video = outcomes["video"].facts
    stored = video.as_dict()
    assert not {"declared_media_type", "transcript"} & set(stored)
    later = dataclasses.replace(video, declared_media_type="audio", transcript="Hello.")
    assert later.as_dict()["declared_media_type"] == "audio"
    assert later.as_dict()["transcript"] == "Hello."
    assert "ocr" not in stored  # frames are read only when asked
    assert "ocr" not in outcomes["docx"].facts.as_dict()  # no pictures to read
    assert outcomes["pdf"].facts.as_dict()["ocr"]["readings"][0]["source"] == "page 3"


def test_measured_absence_stays_null(tmp_path):
    silent = make.make_video(tmp_path / "silent.mp4", seconds=1.0, with_audio=False)
    facts = process_media(silent, "video", tmp_path / "out").facts
    assert facts.audio is None and facts.as_dict()["audio"] is None


def test_facts_are_frozen(outcomes):
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcomes["audio"].facts.loudness.peak_dbfs = 0.0  # type: ignore[misc]


def test_document_page_count_only_for_pdf(outcomes):
    assert outcomes["pdf"].facts.page_count == 3
    assert outcomes["docx"].facts.page_count is None
    assert isinstance(outcomes["pdf"].facts.details, PdfFacts)


def test_processing_imports_no_django():
    # The facts travel from processing to providers: still pure, still no Django.
    code = (
        "import sys, analysis.processing.facts, analysis.processing; "
        "sys.exit(1 if any(m.split('.')[0] == 'django' for m in sys.modules) else 0)"
    )
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root).returncode == 0
