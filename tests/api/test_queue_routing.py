"""The outbox publishes each analysis to the queue analysis/queues.py chooses: on
the real Redis broker (this suite's, flushed before each test, no worker
consuming), after the submitting commit, from the flush, and on a retry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from kombu.utils.json import loads

from analysis import outbox
from analysis.models import AnalysisRequest, AnalysisStatus, OutboxEntry
from media_analysis.celery import app
from tests.api.conftest import make_request
from tests.api.test_submit import ANALYZE, upload
from tests.processing.media_factory import make_video

pytestmark = pytest.mark.django_db

QUEUES = ("media.heavy", "media.light", "media", "default", "maintenance")


def _broker():
    return app.connection_for_write().default_channel.client


def lengths() -> dict[str, int]:
    client = _broker()
    return {queue: int(client.llen(queue)) for queue in QUEUES}


def queued_ids(queue: str) -> list[str]:
    """The request ids of the analysis messages waiting in ``queue``."""
    ids = []
    for raw in _broker().lrange(queue, 0, -1):
        message = loads(raw)
        assert message["headers"]["task"] == outbox.ANALYSE_TASK
        ids.append(message["headers"]["argsrepr"].strip("(),' "))
    return ids


def test_submissions_are_published_to_the_heavy_or_light_queue(
    alice, allow_local_media, storage_root, tmp_path, django_capture_on_commit_callbacks
):
    from tests.api.conftest import jpeg_bytes

    video = make_video(tmp_path / "clip.mp4", seconds=1.0).read_bytes()
    submitted: dict[str, list[str]] = {"media.light": [], "media.heavy": []}

    def by_url(media_url: str, queue: str, **fields) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            response = alice.client.post(
                ANALYZE, {"media_url": media_url, "prompt": "p", **fields}, format="json"
            )
        assert response.status_code == 202, response.content
        submitted[queue].append(response.json()["id"])

    def by_upload(content: bytes, name: str, queue: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            response = upload(alice, content, name=name)
        assert response.status_code == 202, response.content
        submitted[queue].append(response.json()["id"])

    # Uploads: detected from their bytes at submission (the name says nothing).
    by_upload(jpeg_bytes(), "a.bin", "media.light")
    by_upload(video, "b.jpg", "media.heavy")
    # URLs: the hint, else the path's extension, else unknown (heavy).
    by_url("http://127.0.0.1:9/photo.png", "media.light")
    by_url("http://127.0.0.1:9/report.pdf?x=1", "media.light")
    by_url("http://127.0.0.1:9/clip.mp4", "media.heavy")
    by_url("http://127.0.0.1:9/stream", "media.heavy")
    by_url("http://127.0.0.1:9/stream", "media.light", media_type="image")
    by_url("http://127.0.0.1:9/photo.jpg", "media.heavy", media_type="video")
    by_url("http://127.0.0.1:9/song.mp3", "media.heavy")  # audio of unknown size

    assert lengths() == {
        "media.heavy": 5,
        "media.light": 4,
        "media": 0,
        "default": 0,
        "maintenance": 0,
    }
    for queue, ids in submitted.items():
        assert sorted(queued_ids(queue)) == sorted(ids)
    upload_types = AnalysisRequest.objects.filter(media_url__startswith="upload://")
    assert sorted(upload_types.values_list("media_type", flat=True)) == ["image", "video"]
    # Every one was sent: nothing left for the flush.
    assert not OutboxEntry.objects.filter(sent_at__isnull=True).exists()


def test_the_flush_and_a_retry_publish_to_the_chosen_queue(
    alice, allow_local_media, django_capture_on_commit_callbacks
):
    # Entries the broker never got (it was away at submission).
    image = make_request(alice.user, media_type="image")
    video = make_request(alice.user, media_type="video")
    unknown = make_request(alice.user, media_url="http://127.0.0.1:9/x", metadata={})
    for request in (image, video, unknown):
        OutboxEntry.objects.create(request=request)
    counts = outbox.flush(now=timezone.now() + timedelta(seconds=60))
    assert counts["sent"] == 3
    assert sorted(queued_ids("media.light")) == [str(image.id)]
    assert sorted(queued_ids("media.heavy")) == sorted([str(video.id), str(unknown.id)])

    # A failed document retried: the type its run detected routes it.
    failed = make_request(
        alice.user, status=AnalysisStatus.FAILED, media_type="document", error_code="x"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.client.post(f"/api/media/{failed.id}/retry")
    assert response.status_code == 202, response.content
    assert sorted(queued_ids("media.light")) == sorted([str(image.id), str(failed.id)])
    assert lengths()["media"] == 0  # nothing goes to the pre-split queue any more
    assert settings.CELERY_TASK_ROUTES[outbox.ANALYSE_TASK] == {"queue": "media.heavy"}
