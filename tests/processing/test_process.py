"""The entry point: one call per file, the outcome's shape, and the promise that
no library exception escapes, whatever the bytes."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from PIL import Image

from analysis.processing import MediaProcessingError, ProcessingOptions, process_media
from tests.processing import media_factory as make


def _assert_json(facts: dict) -> None:
    assert json.loads(json.dumps(facts)) == facts


def test_video_outcome(video_mp4, tmp_path):
    outcome = process_media(video_mp4, "video", tmp_path)
    assert (outcome.media_type, outcome.mime_type, outcome.extension) == (
        "video",
        "video/mp4",
        ".mp4",
    )
    sheet = outcome.contact_sheet
    assert (sheet.frames_count, sheet.grid_layout, sheet.resolution) == (6, "2x3", "1920x1080")
    assert outcome.images == [(sheet.path, "image/jpeg")]
    assert [path.name for path in outcome.frames] == [f"frame_{i:03d}.jpg" for i in range(1, 7)]
    assert all(path.parent == tmp_path and path.exists() for path in outcome.frames)
    assert outcome.text is None
    timings = outcome.facts.timings_ms
    assert {"detect_ms", "probe_ms", "frames_ms", "contact_sheet_ms", "total_ms"} <= set(timings)
    assert timings["total_ms"] >= timings["frames_ms"]
    _assert_json(outcome.facts.as_dict())


def test_audio_outcome(mp3_tone, tmp_path):
    outcome = process_media(mp3_tone, "audio", tmp_path)
    assert (outcome.media_type, outcome.mime_type, outcome.extension) == (
        "audio",
        "audio/mpeg",
        ".mp3",
    )
    assert outcome.images == [(tmp_path / "waveform.png", "image/png")]
    assert outcome.contact_sheet is None and outcome.frames == [] and outcome.text is None
    assert "loudness" in outcome.facts.as_dict()
    _assert_json(outcome.facts.as_dict())


def test_image_outcome(jpeg_rotated, tmp_path):
    outcome = process_media(jpeg_rotated, "image", tmp_path, ProcessingOptions(max_image_side=100))
    assert outcome.images == [(tmp_path / "normalized.jpg", "image/jpeg")]
    with Image.open(outcome.images[0][0]) as image:
        assert image.size == (50, 100)
    _assert_json(outcome.facts.as_dict())


def test_document_outcomes(text_pdf, mixed_pdf, docx_file, tmp_path):
    pdf = process_media(text_pdf, "document", tmp_path / "pdf")
    assert "Hello from page one" in pdf.text and pdf.images == []
    mixed = process_media(mixed_pdf, "document", tmp_path / "mixed")
    assert mixed.images == [(tmp_path / "mixed" / "page_002.jpg", "image/jpeg")]
    docx = process_media(docx_file, "document", tmp_path / "docx")
    assert docx.extension == ".docx" and docx.text.startswith("Dear reader,")
    for outcome in (pdf, mixed, docx):
        _assert_json(outcome.facts.as_dict())
        assert outcome.facts.stats.chars == len(outcome.text)


def test_the_content_decides_not_the_declared_type(text_pdf, tmp_path):
    disguised = tmp_path / "clip.mp4"
    shutil.copy(text_pdf, disguised)
    outcome = process_media(disguised, "video", tmp_path / "out")
    assert outcome.media_type == "document" and outcome.mime_type == "application/pdf"
    assert outcome.facts.declared_media_type == "video"
    assert outcome.facts.detected.media_type == "document"


def test_unknown_content_is_unsupported(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(bytes(range(256)) * 16)
    with pytest.raises(MediaProcessingError) as caught:
        process_media(path, None, tmp_path / "out")
    assert caught.value.code == "unsupported_media"
    assert len(caught.value.code) <= 50 and caught.value.message


def test_invalid_media_type_argument_is_a_programming_error(video_mp4, tmp_path):
    with pytest.raises(ValueError):
        process_media(video_mp4, "film", tmp_path)


def test_error_is_picklable_with_code_and_message():
    import pickle

    error = pickle.loads(pickle.dumps(MediaProcessingError("media_corrupt", "Broken.")))  # noqa: S301 (our own bytes)
    assert (error.code, error.message) == ("media_corrupt", "Broken.")
    with pytest.raises(ValueError):
        MediaProcessingError("x" * 51, "too long a code")


def _damaged_copies(source: Path, out_dir: Path) -> list[Path]:
    """Cut at several points, and with bytes overwritten in the middle."""
    data = source.read_bytes()
    copies = []
    for fraction in (0.05, 0.3, 0.6, 0.95):
        path = out_dir / f"{source.stem}-cut{int(fraction * 100)}{source.suffix}"
        path.write_bytes(data[: max(1, int(len(data) * fraction))])
        copies.append(path)
    rng = random.Random(source.name)  # noqa: S311 (reproducible damage, not security)
    for round_ in range(3):
        damaged = bytearray(data)
        for _ in range(40):
            at = rng.randrange(min(len(damaged) - 1, 64), len(damaged))
            damaged[at] = rng.randrange(256)
        path = out_dir / f"{source.stem}-flip{round_}{source.suffix}"
        path.write_bytes(bytes(damaged))
        copies.append(path)
    return copies


@pytest.mark.parametrize(
    "build",
    [
        lambda d: make.make_video(d / "v.mp4", seconds=2),
        lambda d: make.make_video(d / "v.mkv", seconds=2, container_format="matroska"),
        lambda d: make.make_audio(d / "a.wav"),
        lambda d: make.make_audio(d / "a.mp3", fmt="mp3"),
        lambda d: make.make_audio(d / "a.flac", fmt="flac"),
        lambda d: make.make_image(d / "i.jpg"),
        lambda d: make.make_image(d / "i.png", fmt="PNG"),
        lambda d: make.make_text_pdf(d / "d.pdf", ["some text here", None]),
        lambda d: make.make_docx(d / "d.docx", ["one", "two"]),
    ],
    ids=["mp4", "mkv", "wav", "mp3", "flac", "jpeg", "png", "pdf", "docx"],
)
def test_damaged_files_end_in_media_processing_error_or_an_outcome(build, tmp_path):
    source = build(tmp_path)
    codes = set()
    for damaged in _damaged_copies(source, tmp_path):
        try:
            outcome = process_media(damaged, None, tmp_path / ("out-" + damaged.name))
        except MediaProcessingError as exc:
            assert len(exc.code) <= 50 and exc.message.endswith((".", ")"))
            codes.add(exc.code)
        else:
            _assert_json(outcome.facts.as_dict())
    # Cutting a file to 5% must always be noticed.
    assert codes & {"media_truncated", "media_corrupt", "unsupported_media", "no_video_stream"}
