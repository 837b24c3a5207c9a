"""analysis/queues.py: which queue an analysis is published to (heavy or light),
from the detected type, the caller's hint, the URL's extension and, for audio,
the stored file's size."""

from __future__ import annotations

import uuid

import pytest

from analysis.models import AnalysisRequest
from analysis.queues import (
    EXTENSION_TYPES,
    expected_media_type,
    media_type_of_url,
    queue_for,
    queue_for_media,
)
from storage_app.layout import METADATA_NAME
from storage_app.models import MediaFile

HEAVY, LIGHT = "media.heavy", "media.light"
LIMIT = 5 * 1024 * 1024


@pytest.fixture(autouse=True)
def _audio_limit(settings):
    settings.ANALYSIS_LIGHT_AUDIO_MAX_BYTES = LIMIT


def _request(media_url="https://example.com/file", media_type="unknown", hint=None):
    metadata = {"media_type_hint": hint} if hint else {}
    return AnalysisRequest.objects.create(
        media_url=media_url, prompt="p", media_type=media_type, metadata=metadata
    )


def _stored(request, size: int, *, name="original.mp3", deleted=False) -> MediaFile:
    return MediaFile.objects.create(
        request_id=request.id,
        filename=name,
        storage_path=f"/nowhere/{name}",
        relative_path=f"uploads/2026-12-02/{request.id}/{name}",
        size_bytes=size,
        deleted_at="2026-12-01T00:00:00Z" if deleted else None,
    )


@pytest.mark.parametrize(
    ("media_type", "size", "queue"),
    [
        ("image", None, LIGHT),
        ("document", None, LIGHT),
        ("image", 10**10, LIGHT),  # size matters for audio only
        ("video", None, HEAVY),
        ("video", 1, HEAVY),
        ("unknown", None, HEAVY),
        ("unknown", 1, HEAVY),
        ("audio", 0, LIGHT),
        ("audio", LIMIT, LIGHT),
        ("audio", LIMIT + 1, HEAVY),
        ("audio", None, HEAVY),  # not downloaded yet: its length may be anything
    ],
)
def test_each_media_type_and_size_has_its_queue(media_type, size, queue):
    assert queue_for_media(media_type, size) == queue


def test_the_audio_limit_is_the_setting(settings):
    settings.ANALYSIS_LIGHT_AUDIO_MAX_BYTES = 100
    assert queue_for_media("audio", 100) == LIGHT
    assert queue_for_media("audio", 101) == HEAVY


@pytest.mark.parametrize(
    ("url", "media_type"),
    [
        ("https://example.com/clip.mp4", "video"),
        ("https://example.com/a/b/CLIP.MOV?sig=x.jpg#t=1", "video"),  # path only, any case
        ("https://example.com/song.mp3", "audio"),
        ("https://example.com/photo.jpeg", "image"),
        ("https://example.com/photo.webp?w=200", "image"),
        ("https://example.com/report.pdf", "document"),
        ("https://example.com/notes.docx", "document"),
        ("https://example.com/download?file=photo.jpg", "unknown"),  # the query is not the path
        ("https://example.com/", "unknown"),
        ("https://example.com/archive.zip", "unknown"),
        ("upload://0b7d5e9a-0f4e-4b83-9b1e-5c4f7b0e2a11", "unknown"),
        ("http://[::1", "unknown"),  # unparseable
    ],
)
def test_a_urls_extension_suggests_a_type(url, media_type):
    assert media_type_of_url(url) == media_type


def test_every_listed_extension_names_a_known_type():
    assert set(EXTENSION_TYPES.values()) == {"video", "audio", "image", "document"}
    assert all(ext.startswith(".") and ext == ext.lower() for ext in EXTENSION_TYPES)


@pytest.mark.django_db
def test_the_detected_type_wins_over_the_hint_and_the_extension():
    request = _request("https://example.com/clip.mp4", media_type="image", hint="video")
    assert expected_media_type(request) == "image"
    assert queue_for(request) == LIGHT


@pytest.mark.django_db
def test_the_hint_wins_over_the_extension():
    assert queue_for(_request("https://example.com/clip.mp4", hint="image")) == LIGHT
    assert queue_for(_request("https://example.com/photo.jpg", hint="video")) == HEAVY
    assert queue_for(_request("https://example.com/photo.jpg", hint="document")) == LIGHT


@pytest.mark.django_db
def test_without_type_or_hint_the_extension_decides_and_nothing_known_is_heavy():
    assert queue_for(_request("https://example.com/photo.jpg")) == LIGHT
    assert queue_for(_request("https://example.com/report.pdf")) == LIGHT
    assert queue_for(_request("https://example.com/clip.mkv")) == HEAVY
    assert queue_for(_request("https://example.com/stream")) == HEAVY


@pytest.mark.django_db
def test_audio_goes_by_the_size_of_its_stored_file():
    short = _request("upload://x", media_type="audio")
    _stored(short, LIMIT)
    _stored(short, 10**9, name=METADATA_NAME)  # the sidecar beside it is not the media
    assert queue_for(short) == LIGHT

    long = _request("upload://y", media_type="audio")
    _stored(long, LIMIT + 1)
    assert queue_for(long) == HEAVY

    # Audio at a URL, by hint or extension, not downloaded yet: heavy.
    assert queue_for(_request("https://example.com/song.mp3")) == HEAVY
    assert queue_for(_request("https://example.com/x", hint="audio")) == HEAVY

    # Its file removed by retention: the size is no longer known.
    gone = _request("upload://z", media_type="audio")
    _stored(gone, 10, deleted=True)
    assert queue_for(gone) == HEAVY


@pytest.mark.django_db
def test_a_retried_url_request_goes_by_what_its_first_run_detected():
    request = _request(f"https://example.com/{uuid.uuid4()}", hint="video")
    assert queue_for(request) == HEAVY
    request.media_type = "audio"  # detected by the first run, file downloaded
    _stored(request, 1000)
    assert queue_for(request) == LIGHT
