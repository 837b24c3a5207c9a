"""The built-in provider with a response schema (issue 13): it fills the fields it
can from what processing really measured on a real file of each type, says which
it could not, and fails with ``schema_unfillable`` when a required one is among
them. It never makes a value up."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analysis.processing import ProcessingOutcome, process_media
from analysis.providers import ProviderError, ProviderRequest, get_provider
from analysis.providers.builtin import SCHEMA_UNFILLABLE
from analysis.providers.schema_fill import fill, normalise
from analysis.providers.structured import SchemaMismatch, answer
from tests.processing import media_factory as make
from tests.providers import sample_facts


@pytest.fixture(scope="module")
def processed(tmp_path_factory) -> dict[str, ProcessingOutcome]:
    root = tmp_path_factory.mktemp("builtin-schema")
    files = make.make_one_of_each(root / "media")
    kinds = ("video", "audio", "image", "pdf", "html")
    return {kind: process_media(files[kind], None, root / "out" / kind) for kind in kinds}


def ask(outcome: ProcessingOutcome, schema: dict):
    request = ProviderRequest(
        prompt="Fill the schema.", text=outcome.text, facts=outcome.facts, response_schema=schema
    )
    return get_provider("builtin").analyse(request)


def obj(required: tuple[str, ...] = (), **properties) -> dict:
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


NUMBER, INTEGER, STRING, BOOLEAN = (
    {"type": "number"},
    {"type": "integer"},
    {"type": "string"},
    {"type": "boolean"},
)


def test_names_are_compared_normalised():
    assert normalise("pageCount") == normalise("Page-Count") == normalise("page count")
    assert normalise("durationSeconds") == "duration_seconds"


def test_a_video_fills_duration_resolution_codecs_and_says_what_it_could_not(processed):
    facts = processed["video"].facts
    schema = obj(
        ("duration_seconds", "width"),
        duration_seconds=NUMBER,
        width=INTEGER,
        height=INTEGER,
        fps=NUMBER,
        codec=STRING,
        hasAudio=BOOLEAN,
        media_type={"type": "string", "enum": ["video", "audio", "image", "document"]},
        mood=STRING,
        people_count=INTEGER,
    )

    result = ask(processed["video"], schema)

    assert result.structured_mode == "facts"
    assert result.data == {
        "duration_seconds": facts.duration_s,
        "width": facts.video.width,
        "height": facts.video.height,
        "fps": facts.video.frame_rate,
        "codec": facts.video.codec,
        "hasAudio": facts.audio is not None,
        "media_type": "video",
    }
    assert result.data["duration_seconds"] == pytest.approx(3.0, abs=0.1)
    assert "Could not fill (nothing measured matches): mood, people_count" in result.text
    assert "Technical report (metadata only)" in result.text  # the report is still there
    validated = answer(
        get_provider("builtin").analyse,
        ProviderRequest(prompt="Fill", facts=facts, response_schema=schema),
    )
    assert validated.data == result.data and validated.repaired is False


def test_the_type_decides_whether_a_value_fits(processed):
    facts = processed["video"].facts
    result = ask(
        processed["video"],
        obj(
            duration=INTEGER, width=STRING, height=BOOLEAN, frame_rate={"type": ["number", "null"]}
        ),
    )
    # Rounded to whole seconds, the number as text, never a number as a boolean.
    assert result.data == {
        "duration": round(facts.duration_s),
        "width": str(facts.video.width),
        "frame_rate": facts.video.frame_rate,
    }
    assert "height" in result.text.split("Could not fill")[1]


def test_nested_objects_are_filled_from_their_section(processed):
    facts = processed["video"].facts
    schema = obj(
        video=obj(codec=STRING, width=INTEGER),
        audio=obj(codec=STRING, channels=INTEGER),
        file={"$ref": "#/$defs/file"},
    )
    schema["$defs"] = {"file": obj(size_bytes=INTEGER, mime_type=STRING)}
    result = ask(processed["video"], schema)
    assert result.data["video"] == {"codec": facts.video.codec, "width": facts.video.width}
    assert result.data["audio"] == {"codec": facts.audio.codec, "channels": facts.audio.channels}
    assert result.data["file"] == {
        "size_bytes": facts.size_bytes,
        "mime_type": facts.detected.mime_type,
    }


def test_a_silent_section_is_not_filled_from_another():
    silent = replace(sample_facts.video_facts(), audio=None)
    filled = fill(obj(audio=obj(codec=STRING), has_audio=BOOLEAN), silent, None)
    assert filled.data == {"has_audio": False}  # not the video's codec as the audio's
    assert filled.unfilled == ("audio.codec",)


def test_audio_fills_levels_and_silence(processed):
    facts = processed["audio"].facts
    result = ask(
        processed["audio"],
        obj(
            ("duration_seconds", "peak_dbfs"),
            duration_seconds=NUMBER,
            peak_dbfs=NUMBER,
            rms_level=NUMBER,
            silence_ratio=NUMBER,
            sample_rate=INTEGER,
            channels=INTEGER,
            transcript=STRING,
        ),
    )
    assert result.data == {
        "duration_seconds": facts.duration_s,
        "peak_dbfs": facts.loudness.peak_dbfs,
        "rms_level": facts.loudness.rms_dbfs,
        "silence_ratio": facts.loudness.silence_ratio,
        "sample_rate": facts.audio.sample_rate,
        "channels": 2,
    }
    assert result.data["silence_ratio"] == pytest.approx(1 / 3, abs=0.1)
    assert "Could not fill (nothing measured matches): transcript" in result.text


def test_an_image_fills_its_size_and_format(processed):
    facts = processed["image"].facts
    result = ask(
        processed["image"],
        obj(("width", "height"), width=INTEGER, height=INTEGER, format=STRING, resolution=STRING),
    )
    assert result.data == {
        "width": facts.width,
        "height": facts.height,
        "format": facts.format,
        "resolution": f"{facts.width}x{facts.height}",
    }


def test_a_pdf_fills_pages_and_words(processed):
    facts = processed["pdf"].facts
    result = ask(
        processed["pdf"],
        obj(("pageCount", "word_count"), pageCount=INTEGER, word_count=INTEGER, title=STRING),
    )
    assert result.data["pageCount"] == facts.page_count == 3
    assert result.data["word_count"] == facts.stats.words > 0
    assert "title" in result.text.split("Could not fill")[1]  # the PDF has no title


def test_an_html_page_fills_title_and_language(processed):
    result = ask(processed["html"], obj(title=STRING, language=STRING, words=INTEGER))
    assert result.data["title"] == "Results" and result.data["language"] == "en"
    assert result.data["words"] == processed["html"].facts.stats.words


def test_a_required_field_nothing_measured_fails_as_unfillable(processed):
    with pytest.raises(ProviderError) as caught:
        ask(processed["image"], obj(("width", "caption"), width=INTEGER, caption=STRING))
    assert caught.value.code == SCHEMA_UNFILLABLE
    assert caught.value.retryable is False
    assert "caption" in caught.value.message and "width" not in caught.value.message


def test_a_required_field_that_may_be_null_is_null(processed):
    result = ask(processed["image"], obj(("caption",), caption={"type": ["string", "null"]}))
    assert result.data == {"caption": None}
    assert "Could not fill (nothing measured matches): caption" in result.text


def test_a_schema_without_properties_to_match_is_unfillable(processed):
    with pytest.raises(ProviderError) as caught:
        ask(processed["image"], {"type": "array", "items": {"type": "string"}})
    assert caught.value.code == SCHEMA_UNFILLABLE


def test_a_measured_value_the_schema_forbids_is_a_mismatch_without_repair(processed):
    schema = obj(("width",), width={"type": "integer", "minimum": 100_000})
    request = ProviderRequest(prompt="Fill", facts=processed["image"].facts, response_schema=schema)
    with pytest.raises(SchemaMismatch) as caught:
        answer(get_provider("builtin").analyse, request)
    assert "(no repair: the provider fills it from facts)" in caught.value.message
    assert len(caught.value.answers) == 1
