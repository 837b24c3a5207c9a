"""The built-in provider: an honest metadata report, no key, no network.

Its facts are real: processing runs on a real file of every type, as the
pipeline does, and the report is checked against what processing measured."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from analysis.processing import ProcessingOutcome, process_media
from analysis.providers import ImageInput, ProviderError, ProviderRequest, get_provider
from analysis.providers.builtin import BUILTIN_MODEL, honesty_note
from analysis.providers.report_lines import (
    fmt_bit_rate,
    fmt_bytes,
    fmt_channels,
    fmt_count,
    fmt_duration,
    fmt_sample_rate,
    fmt_share_of_time,
    fmt_unit,
    measured_lines,
)
from tests.processing import media_factory as make
from tests.providers import sample_facts

KINDS = ("video", "audio", "image", "pdf", "docx", "html", "markdown", "text")
# Keys that are storage paths or internal timings: measured, but not reported.
UNREPORTED_KEYS = frozenset({"path", "timings_ms"})


@pytest.fixture(scope="module")
def processed(tmp_path_factory) -> dict[str, ProcessingOutcome]:
    root = tmp_path_factory.mktemp("builtin")
    files = make.make_one_of_each(root / "media")
    return {kind: process_media(path, None, root / "out" / kind) for kind, path in files.items()}


def report(prompt: str, **fields) -> str:
    return get_provider("builtin").analyse(ProviderRequest(prompt=prompt, **fields)).text


def report_on(outcome: ProcessingOutcome, prompt: str) -> str:
    return report(prompt, text=outcome.text, facts=outcome.facts)


def answer_part(text: str) -> str:
    return text.split("What the measurements can say about it:")[1].split("Measured facts:")[0]


def measured_leaves(value: Any, path: str = "") -> list[str]:
    """The dotted paths of every measured value in stored facts (None is not measured)."""
    key = path.rsplit(".", 1)[-1]
    if value is None or key in UNREPORTED_KEYS:
        return []
    if isinstance(value, dict) and value:
        return [
            leaf
            for child, item in value.items()
            for leaf in measured_leaves(item, f"{path}.{child}" if path else child)
        ]
    return [path]


def test_builtin_is_the_default_and_needs_nothing(processed):
    provider = get_provider()
    assert provider.name == "builtin" and provider.is_configured()

    result = provider.analyse(ProviderRequest(prompt="Anything?", facts=processed["video"].facts))

    assert result.provider == "builtin"
    assert result.model_used == BUILTIN_MODEL
    assert (result.input_tokens, result.output_tokens) == (0, 0)
    assert result.cost_usd == Decimal("0") and result.cost_source == "free"


def test_report_says_plainly_that_no_model_looked(processed):
    facts = processed["video"].facts
    text = report("Describe the scene.", facts=facts)
    assert "No model looked at the content of this file" in text
    assert honesty_note(facts) in text
    assert "What the media shows, says or means: not answered here" in text


@pytest.mark.parametrize("kind", KINDS)
def test_every_measured_fact_appears_in_the_report(processed, kind):
    outcome = processed[kind]
    text = report_on(outcome, "Give me a summary.")
    stored = outcome.facts.as_dict()
    leaves = measured_leaves(stored)
    lines = measured_lines(outcome.facts, outcome.text)
    reported = {path for line in lines for path in line.paths}
    for line in lines:
        assert f"- {line.label}: {line.value}" in text
        # Each labelled line names facts that exist and were measured.
        assert set(line.paths) <= set(leaves), line
    others = text.split("Other measurements:")[1] if "Other measurements:" in text else ""
    missing = [
        leaf
        for leaf in leaves
        if leaf not in reported and f"- {leaf}: " not in others and leaf != "excerpt"
    ]
    assert missing == []
    if "excerpt" in stored:
        assert f'"{stored["excerpt"]}' in text
    # Only what was measured: no loudness standard, no colours, no storage paths.
    assert "LUFS" not in text and "olour" not in text
    for image, _ in outcome.images:
        assert str(image.parent) not in text
    assert "timings_ms" not in text


def test_video_report_lists_the_measured_facts(processed):
    outcome = processed["video"]
    facts = outcome.facts
    text = report_on(outcome, "Give me a summary.")
    assert facts.duration_s == pytest.approx(3.0, abs=0.1)
    assert f"- Duration: {fmt_duration(facts.duration_s)}" in text
    assert "- Resolution: 320 x 240 px (aspect 1.33:1)" in text
    assert "- Frame rate: 25.00 fps" in text
    assert facts.video.codec in ("h264", "mpeg4")
    assert f"- Video codec: {facts.video.codec}" in text and "- Audio codec: aac" in text
    assert "- Sample rate: 48 kHz" in text and "- Channels: 2 (stereo)" in text
    assert f"- File size: {fmt_bytes(facts.size_bytes)}" in text
    assert f"- Bit rate: {fmt_bit_rate(facts.bit_rate)}" in text
    assert "- Media type: video" in text and "- MIME type: video/mp4" in text
    # Measurements without a label of their own are kept, storage paths are not.
    assert "- contact_sheet.grid_layout: 2x3" in text
    assert "- frames: 6 entries" in text
    assert "- video.pix_fmt: yuv420p" in text
    assert str(facts.contact_sheet.path) not in text and "/frame_" not in text


def test_formats_of_the_measured_values():
    assert fmt_duration(83.4) == "1 min 23.4 s (83.4 s)"
    assert fmt_duration(3725) == "1 h 2 min 5 s (3725.0 s)"
    assert fmt_bytes(12_345_678) == "11.8 MB"
    assert fmt_unit("fps", 2)(29.97) == "29.97 fps"
    assert fmt_sample_rate(48000) == "48 kHz" and fmt_channels(2) == "2 (stereo)"
    assert fmt_bit_rate(2_500_000) == "2.50 Mbit/s" and fmt_bit_rate(128_000) == "128 kbit/s"
    assert fmt_share_of_time(0.3333) == "33.3 % of the time"
    assert fmt_count(1280) == "1,280"


def test_audio_report_has_levels_and_silence_never_lufs(processed):
    outcome = processed["audio"]
    loudness = outcome.facts.loudness
    text = report_on(outcome, "Is it silent?")
    # 2 s of tone, then 1 s of digital silence.
    assert loudness.silence_ratio == pytest.approx(1 / 3, abs=0.01)
    assert "- Silence: 33.3 % of the time" in text
    assert f"- Peak level: {loudness.peak_dbfs:.1f} dBFS" in text
    assert f"- RMS level: {loudness.rms_dbfs:.1f} dBFS" in text
    assert "- Channels: 2 (stereo)" in text and "- Audio codec: pcm_s16le" in text
    assert "LUFS" not in text and "Integrated loudness" not in text
    assert "peak and RMS levels" in honesty_note(outcome.facts)


def test_prompt_is_answered_only_from_the_facts_it_touches(processed):
    audio = processed["audio"].facts
    answer = answer_part(report("How long is it and how loud is the audio?", facts=audio))
    assert f"Duration: {fmt_duration(audio.duration_s)}" in answer
    assert f"Peak level: {audio.loudness.peak_dbfs:.1f} dBFS" in answer
    assert "Silence: 33.3 % of the time" in answer
    assert "Resolution" not in answer


def test_loudness_of_a_video_is_not_measured_and_says_so(processed):
    video = processed["video"].facts
    answer = answer_part(report("How long is it and how loud is the audio?", facts=video))
    assert f"Duration: {fmt_duration(video.duration_s)}" in answer
    assert "Asked about loudness: processing measured nothing on it." in answer
    assert "LUFS" not in answer


def test_prompt_about_something_not_measured_says_so(processed):
    facts = processed["image"].facts
    text = report("How many pages? Which colours dominate?", facts=facts)
    assert "Asked about page count: processing measured nothing on it." in text
    assert "Asked about colours: processing measured nothing on it." in text
    assert "- Resolution: 400 x 200 px (aspect 2.00:1)" in text
    assert "- exif.Make: TestCam" in text and "- orientation: 6" in text


def test_document_report_has_pages_text_statistics_and_an_excerpt(processed):
    outcome = processed["pdf"]
    stats = outcome.facts.stats
    text = report_on(outcome, "How many words are in the document?")
    assert "- Pages: 3" in text
    assert stats.words == 11
    assert f"- Words: {stats.words}" in text
    assert f"- Characters: {fmt_count(stats.chars)}" in text
    assert f"- Lines: {stats.lines}" in text and f"- Paragraphs: {stats.paragraphs}" in text
    assert "processing measured nothing" not in text
    assert "Text statistics (counted here)" not in text
    excerpt = outcome.facts.excerpt
    assert f"Text excerpt (verbatim from the document, first {len(excerpt)} characters):" in text
    assert '"The quarterly results improved' in text
    assert "- pages_without_text: [3]" in text and "- rendered_pages: [3]" in text


@pytest.mark.parametrize("kind", ["docx", "html", "markdown", "text"])
def test_every_document_format_reports_its_text_statistics(processed, kind):
    outcome = processed[kind]
    text = report_on(outcome, "How many words?")
    assert f"- Words: {outcome.facts.stats.words}" in text
    assert "Asked about text: processing measured nothing" not in text
    assert "- Pages:" not in text  # only a PDF has pages


def test_html_title_and_language_are_reported(processed):
    text = report_on(processed["html"], "What is the title?")
    assert "- title: Results" in text and "- lang: en" in text and "- encoding: utf-8" in text


def test_long_text_without_facts_is_cut_in_the_excerpt():
    body = "The quarterly results improved. " * 40
    text = report("How many words are in the document?", text=body)
    assert "Text excerpt (verbatim from the document, first 600 characters):" in text
    assert '"The quarterly results improved.' in text


def test_text_statistics_are_counted_when_processing_gave_none():
    text = report("Word count?", text="one two three\nfour")
    assert "- Text statistics (counted here): 4 words, 18 characters, 2 lines" in text


def test_images_are_mentioned_as_not_looked_at():
    text = report("What is this?", images=[ImageInput(b"x", "image/png")])
    assert "1 image(s) were prepared; none was looked at." in text
    assert "(processing reported no facts)" in text


def test_builtin_refuses_another_model():
    with pytest.raises(ProviderError) as caught:
        get_provider("builtin").analyse(ProviderRequest(prompt="x", model="gpt-4o"))
    assert caught.value.code == "provider_bad_request"


def _shape(value: Any) -> Any:
    """Keys all the way down, values left out."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [_shape(value[0])]
    return None


@pytest.mark.parametrize(
    ("kind", "build"),
    [
        ("video", sample_facts.video_facts),
        ("audio", sample_facts.audio_facts),
        ("pdf", sample_facts.document_facts),
    ],
)
def test_sample_facts_have_the_shape_processing_writes(processed, kind, build):
    real, sample = processed[kind].facts.as_dict(), build().as_dict()
    if kind == "pdf":
        # The sample PDF has a text layer on its one page; the processed one has a
        # scanned page, which OCR reads (issue 13).
        real.pop("ocr"), real["timings_ms"].pop("ocr_ms")
    assert _shape(sample) == _shape(real)


def test_sample_image_facts_have_the_shape_processing_writes(processed):
    real, sample = processed["image"].facts.as_dict(), sample_facts.image_facts().as_dict()
    # EXIF tags vary per file (this one has no Orientation): compare the rest.
    real.pop("exif"), sample.pop("exif")
    assert _shape(sample) == _shape(real)
