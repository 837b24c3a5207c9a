"""The built-in provider: an honest metadata report, no key, no network."""

from __future__ import annotations

from decimal import Decimal

import pytest

from analysis.providers import ImageInput, ProviderError, ProviderRequest, get_provider
from analysis.providers.builtin import BUILTIN_MODEL, HONESTY_NOTE

VIDEO_FACTS = {
    "media_type": "video",
    "mime_type": "video/mp4",
    "container": "mov,mp4,m4a,3gp,3g2,mj2",
    "duration_s": 83.4,
    "size_bytes": 12_345_678,
    "video": {"codec": "h264", "width": 1920, "height": 1080, "frame_rate": 29.97},
    "audio": {"codec": "aac", "sample_rate": 48000, "channels": 2},
    "loudness": {"integrated_lufs": -16.2, "peak_dbfs": -1.0},
    "dominant_colours": [{"hex": "#1a2b3c", "fraction": 0.42}, "#ffffff"],
    "contact_sheet": {"grid_layout": "2x3", "path": "/srv/storage/secret/sheet.jpg"},
    "frames": [{"time_s": 1.0, "path": "/srv/x.jpg"}, {"time_s": 2.0, "path": "/srv/y.jpg"}],
    "timings_ms": {"decode": 120},
}


def report(prompt: str, **fields) -> str:
    return get_provider("builtin").analyse(ProviderRequest(prompt=prompt, **fields)).text


def test_builtin_is_the_default_and_needs_nothing():
    provider = get_provider()
    assert provider.name == "builtin" and provider.is_configured()

    result = provider.analyse(ProviderRequest(prompt="Anything?", facts=VIDEO_FACTS))

    assert result.provider == "builtin"
    assert result.model_used == BUILTIN_MODEL
    assert (result.input_tokens, result.output_tokens) == (0, 0)
    assert result.cost_usd == Decimal("0") and result.cost_source == "free"


def test_report_says_plainly_that_no_model_looked():
    text = report("Describe the scene.", facts=VIDEO_FACTS)
    assert "No model looked at the content of this file" in text
    assert HONESTY_NOTE in text
    assert "What the media shows, says or means: not answered here" in text


def test_report_lists_the_measured_facts():
    text = report("Give me a summary.", facts=VIDEO_FACTS)
    assert "- Duration: 1 min 23.4 s (83.4 s)" in text
    assert "- Resolution: 1920 x 1080 px (aspect 1.78:1)" in text
    assert "- Frame rate: 29.97 fps" in text
    assert "- Video codec: h264" in text and "- Audio codec: aac" in text
    assert "- Sample rate: 48 kHz" in text and "- Channels: 2 (stereo)" in text
    assert "- Integrated loudness: -16.2 LUFS" in text
    assert "- File size: 11.8 MB" in text
    assert "- Dominant colours: #1a2b3c (42%), #ffffff" in text
    # Unknown measurements are kept, storage paths and internal timings are not.
    assert "contact_sheet.grid_layout: 2x3" in text
    assert "frames: 2 entries" in text
    assert "/srv/" not in text and "timings_ms" not in text


def test_prompt_is_answered_only_from_the_facts_it_touches():
    text = report("How long is it and how loud is the audio?", facts=VIDEO_FACTS)
    answer = text.split("What the measurements can say about it:")[1].split("Measured facts:")[0]
    assert "Duration: 1 min 23.4 s" in answer
    assert "Integrated loudness: -16.2 LUFS" in answer
    assert "Resolution" not in answer


def test_prompt_about_something_not_measured_says_so():
    text = report("How many pages?", facts={"media_type": "image", "width": 10, "height": 10})
    assert "Asked about page count: processing measured nothing on it." in text


def test_document_report_has_pages_text_statistics_and_an_excerpt():
    body = "The quarterly results improved. " * 40
    text = report(
        "How many words are in the document?",
        text=body,
        facts={"media_type": "document", "page_count": 3, "text": {"words": 200, "chars": 1280}},
    )
    assert "- Pages: 3" in text
    assert "- Words: 200" in text and "- Characters: 1,280" in text
    assert "Text excerpt (verbatim from the document, first 600 characters):" in text
    assert '"The quarterly results improved.' in text


def test_text_statistics_are_counted_when_processing_gave_none():
    text = report("Word count?", text="one two three\nfour", facts={"media_type": "document"})
    assert "- Text statistics (counted here): 4 words, 18 characters, 2 lines" in text


def test_images_are_mentioned_as_not_looked_at():
    text = report("What is this?", images=[ImageInput(b"x", "image/png")], facts={})
    assert "1 image(s) were prepared; none was looked at." in text
    assert "(processing reported no facts)" in text


def test_builtin_refuses_another_model():
    with pytest.raises(ProviderError) as caught:
        get_provider("builtin").analyse(ProviderRequest(prompt="x", model="gpt-4o"))
    assert caught.value.code == "provider_bad_request"


def test_silence_share_is_reported_as_a_measured_fact():
    from analysis.providers import ProviderRequest, get_provider

    facts = {"media_type": "audio", "loudness": {"peak_dbfs": -6.0, "silence_ratio": 0.3333}}
    text = (
        get_provider("builtin").analyse(ProviderRequest(prompt="Is it silent?", facts=facts)).text
    )
    assert "Silence: 33.3 % of the time" in text
