"""analysis/progress.py: stages only forward, one write per stage change, percent
updates throttled, earlier runs' values not shown, and Redis down never failing an
analysis. Real Redis (the suite's, or one of the test's own to stop)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from django_redis import get_redis_connection

from analysis import cache, services
from analysis.models import AnalysisRequest
from analysis.pipeline import run_analysis
from analysis.processing import process_media
from analysis.progress import (
    PERCENT_MIN_SECONDS,
    Progress,
    Stage,
    Tracker,
    progress_key,
    run_of,
    shown_for,
)
from media_analysis import resilience
from media_analysis.embedded import RedisServer, free_port
from tests.analysis.conftest import chunks_of
from tests.conftest import force_status


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def generation(request_id) -> int:
    """Each progress write bumps the request's status generation once."""
    return int(get_redis_connection("default").get(cache.status_generation_key(request_id)) or 0)


def stored(request_id) -> dict | None:
    raw = get_redis_connection("default").get(progress_key(request_id))
    return json.loads(raw) if raw else None


@pytest.fixture
def tracker():
    return Tracker(uuid.uuid4(), run=42, clock=FakeClock())


def test_stages_only_move_forward_one_write_each(tracker):
    before = generation(tracker.request_id)
    tracker.enter(Stage.DOWNLOADING)
    tracker.enter(Stage.PROCESSING)
    tracker.enter(Stage.PROCESSING)  # the same stage again (store_derivatives, loudness)
    tracker.enter(Stage.DOWNLOADING)  # backwards: ignored
    assert generation(tracker.request_id) - before == 2
    assert stored(tracker.request_id)["stage"] == "processing"
    tracker.enter(Stage.RECORDING)  # a skipped stage is fine: forward
    assert stored(tracker.request_id) == {
        "run": 42,
        "stage": "recording",
        "percent": None,
        "at": stored(tracker.request_id)["at"],
    }
    assert generation(tracker.request_id) - before == 3


def test_percent_updates_are_throttled_by_time_and_by_step(tracker):
    clock = tracker.clock
    tracker.enter(Stage.DOWNLOADING)
    writes = generation(tracker.request_id)

    tracker.advance(4, 100)  # less than 5 points
    clock.now += 5
    tracker.advance(4, 100)
    assert generation(tracker.request_id) == writes
    tracker.advance(30, 100)  # 5 s later and 30 points: written
    assert stored(tracker.request_id)["percent"] == 30
    clock.now += PERCENT_MIN_SECONDS / 2
    tracker.advance(90, 100)  # within the second: not written
    assert stored(tracker.request_id)["percent"] == 30
    clock.now += PERCENT_MIN_SECONDS
    tracker.advance(33, 100)  # 3 points: not written
    tracker.advance(90, 100)
    assert stored(tracker.request_id)["percent"] == 90
    assert generation(tracker.request_id) == writes + 2
    tracker.advance(5, None)  # unknown total: nothing
    tracker.advance(5, 0)
    assert generation(tracker.request_id) == writes + 2


def test_counting_passes_chunks_on_and_reports_the_share_downloaded(tracker):
    clock = tracker.clock
    tracker.enter(Stage.DOWNLOADING)

    def chunks():
        for _ in range(4):
            clock.now += 2  # a slow server
            yield b"x" * 25

    assert b"".join(tracker.counting(chunks(), 100)) == b"x" * 100
    assert stored(tracker.request_id)["percent"] == 100
    tracker.enter(Stage.PROCESSING)  # a new stage's percent starts unknown
    assert stored(tracker.request_id)["percent"] is None


def test_a_video_tells_each_frame_as_it_is_taken(small_video, tmp_path):
    told = []
    process_media(
        small_video, None, tmp_path, on_frame=lambda done, planned: told.append((done, planned))
    )
    assert told == [(n, 6) for n in range(1, 7)]


# --------------------------------------------------------------- the status side
@pytest.mark.django_db
def test_what_the_status_shows_by_state():
    started = timezone.now()
    request = AnalysisRequest.objects.create(media_url="https://example.org/a.mp4", prompt="p")
    assert shown_for(request) == Progress(Stage.QUEUED)

    force_status(request.id, "processing", started_at=started)
    request.refresh_from_db()
    assert shown_for(request) is None  # no run has written yet: not known
    Tracker(request.id, run_of(started - timedelta(minutes=5))).enter(Stage.RECORDING)
    assert shown_for(request) is None  # an earlier run's: not this run's
    Tracker(request.id, run_of(request.started_at)).enter(Stage.ASKING_PROVIDER)
    shown = shown_for(request)
    assert (shown.stage, shown.percent) == (Stage.ASKING_PROVIDER, None)
    assert abs((shown.updated_at - timezone.now()).total_seconds()) < 5

    force_status(request.id, "completed", completed_at=timezone.now())
    request.refresh_from_db()
    assert shown_for(request) is None  # ended: the state says it all


@pytest.mark.django_db(transaction=True)
def test_a_run_leaves_its_last_stage_written_for_its_own_run(storage_root, small_image):
    request = services.submit_upload_request(
        chunks=chunks_of(small_image), original_filename="photo.jpg", prompt="What is it?"
    )
    assert run_analysis(request.id) == "completed"
    request.refresh_from_db()
    assert stored(request.id)["stage"] == "recording"
    assert stored(request.id)["run"] == run_of(request.started_at)


# ------------------------------------------------------------------ Redis down
@pytest.fixture
def redis_stopped(tmp_path, settings):
    """The default cache on a redis-server of this test's own, stopped."""
    server = RedisServer(tmp_path / "redis", port=free_port()).start()
    caches = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": server.url}}
    caches["default"]["OPTIONS"] = {
        **caches["default"]["OPTIONS"],
        "SOCKET_CONNECT_TIMEOUT": 1,
        "SOCKET_TIMEOUT": 1,
    }
    settings.CACHES = caches
    settings.REDIS_BREAKER_RESET_TIMEOUT = 0.5
    resilience.reset_breakers()
    server.stop()
    yield server
    resilience.reset_breakers()


@pytest.mark.django_db(transaction=True)
def test_redis_down_an_analysis_completes_and_its_progress_is_not_known(
    storage_root, small_image, redis_stopped
):
    request = services.submit_upload_request(
        chunks=chunks_of(small_image), original_filename="photo.jpg", prompt="What is it?"
    )
    assert run_analysis(request.id) == "completed"

    tracker = Tracker(request.id, run=1)
    tracker.enter(Stage.DOWNLOADING)  # nothing raised
    assert tracker.writes == 1
    force_status(request.id, "processing", started_at=timezone.now())
    request.refresh_from_db()
    assert shown_for(request) is None
