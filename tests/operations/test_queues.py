"""Heavy and light work on queues of their own, with real processes: gunicorn as
shipped and `celery -A media_analysis worker` with the flags README.md,
docs/deployment.md and docker-compose.yml give (``stack.HEAVY_WORKER_FLAGS``,
``stack.LIGHT_WORKER_FLAGS``; that they match is tests/foundation/test_deploy_files.py).

- the plain worker (no -Q) still runs both kinds;
- starvation: an image submitted behind 20 queued videos completes within 10 s
  of its submission, with one heavy and one light worker. Each video asks a
  provider that takes 6 s to answer (``slow_provider``, reuse of earlier answers
  turned off with ``force``), so the heavy pool's backlog is over two minutes: an
  image waiting behind it would miss the bound by far."""

from __future__ import annotations

import json
import time

import pytest
import redis

from analysis.models import AnalysisRequest
from tests.conftest import wait_until
from tests.operations.stack import HEAVY_WORKER_FLAGS, LIGHT_WORKER_FLAGS, submit_upload

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

IMAGE_BOUND_SECONDS = 10.0
VIDEOS = 20


def _statuses(ids: list[str]) -> list[str]:
    return list(AnalysisRequest.objects.filter(pk__in=ids).values_list("status", flat=True))


def _queue_lengths(stack) -> dict[str, int]:
    with redis.Redis.from_url(stack.redis.url) as client:
        return {q: int(client.llen(q)) for q in ("media.heavy", "media.light", "media")}


def _starting(worker) -> dict:
    return next(e for e in worker.json_lines() if e["message"] == "celery worker starting")


def _finished_ids(worker) -> set[str]:
    return {
        e["analysis_id"] for e in worker.json_lines() if e["message"] == "analysis task finished"
    }


def test_the_plain_worker_runs_light_and_heavy_work(stack, image, video):
    stack.start_web()
    with stack.api() as api:
        ids = {}
        for kind, path in (("image", image), ("video", video)):
            response = submit_upload(api, path)
            assert response.status_code == 202, response.text
            ids[kind] = response.json()["id"]
        # Nothing consumes yet: one message on each queue.
        assert _queue_lengths(stack) == {"media.heavy": 1, "media.light": 1, "media": 0}

        worker = stack.start_worker()  # celery -A media_analysis worker -l info: no -Q
        assert {"media.heavy", "media.light", "media"} <= set(_starting(worker)["queues"])
        wait_until(
            lambda: _statuses(list(ids.values())) == ["completed"] * 2,
            120,
            "the plain worker to complete both analyses",
        )
    assert _finished_ids(worker) >= set(ids.values())
    assert _queue_lengths(stack) == {"media.heavy": 0, "media.light": 0, "media": 0}


def test_an_image_behind_20_queued_videos_completes_within_10_seconds(
    stack, slow_provider, image, video
):
    stack.env.update(slow_provider.env())  # "openai" is the slow local server
    stack.start_web()
    heavy = stack.start_worker(*HEAVY_WORKER_FLAGS)
    light = stack.start_worker(*LIGHT_WORKER_FLAGS)
    assert _starting(heavy)["queues"] == ["media", "media.heavy"]
    assert _starting(heavy)["concurrency"] == 1
    assert _starting(light)["queues"] == ["default", "maintenance", "media.light"]

    with stack.api() as api:
        videos = []
        for _ in range(VIDEOS):
            response = submit_upload(
                api, video, provider="openai", options=json.dumps({"force": True})
            )
            assert response.status_code == 202, response.text
            videos.append(response.json()["id"])

        submitted = time.monotonic()
        response = submit_upload(api, image)  # the builtin provider: quick
        assert response.status_code == 202, response.text
        image_id = response.json()["id"]
        wait_until(
            lambda: _statuses([image_id]) in (["completed"], ["failed"]),
            60,
            "the image's analysis",
        )
        elapsed = time.monotonic() - submitted
        waiting = sum(s in ("pending", "processing") for s in _statuses(videos))

    print(
        f"\nimage behind {VIDEOS} videos: completed {elapsed:.2f} s after its submission; "
        f"{waiting} videos still waiting or running then"
    )
    assert _statuses([image_id]) == ["completed"], stack.logs()
    assert elapsed < IMAGE_BOUND_SECONDS, stack.logs()
    # The videos really were ahead of it: all but the first few still waiting.
    assert waiting >= VIDEOS - 3, waiting
    assert slow_provider.received <= 3
    # Each pool ran its own kind only.
    assert image_id in _finished_ids(light)
    assert not _finished_ids(light) & set(videos)
    assert image_id not in _finished_ids(heavy)
