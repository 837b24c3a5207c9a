"""A request acknowledged (202) while the broker is unreachable is not lost and
does not wait for a timer: it sits in the outbox, and starts soon after the broker
answers again (beat's next recovery tick, or a worker's start), exactly once.
The broker is this test's own redis-server, stopped and started again."""

from __future__ import annotations

import time

import pytest

from analysis.models import AnalysisRequest, AnalysisResult, OutboxEntry
from tests.conftest import wait_until
from tests.operations.stack import submit_upload

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

START_BOUND_SECONDS = 60
OUTAGE_SECONDS = 20


def test_a_request_accepted_while_the_broker_is_down_starts_soon_after_it_returns(stack, image):
    stack.start_web()
    worker = stack.start_worker()
    stack.start_beat()
    with stack.api() as api:
        assert api.get("/api/media/history").status_code == 200  # token known
        stack.redis.stop()
        response = submit_upload(api, image)
        assert response.status_code == 202, response.text
        analysis_id = response.json()["id"]
        entry = OutboxEntry.objects.get(request_id=analysis_id)
        assert entry.sent_at is None  # the broker never got it
        time.sleep(OUTAGE_SECONDS)  # long enough for the worker to back off reconnecting
        assert AnalysisRequest.objects.get(pk=analysis_id).status == "pending"

        stack.redis.start()
        back = time.monotonic()
        wait_until(
            lambda: AnalysisRequest.objects.get(pk=analysis_id).status != "pending",
            START_BOUND_SECONDS + 30,
            "the request to start after the broker came back",
            every=0.25,
        )
        started_in = time.monotonic() - back
        wait_until(
            lambda: AnalysisRequest.objects.get(pk=analysis_id).status == "completed",
            60,
            "the analysis to complete",
        )
    print(f"\nbroker back: the request accepted meanwhile started {started_in:.1f} s later")
    assert started_in < START_BOUND_SECONDS
    assert AnalysisResult.objects.filter(request_id=analysis_id).count() == 1
    assert not OutboxEntry.objects.filter(request_id=analysis_id).exists()
    assert worker.alive()
    # Reconnecting is routine: the consumer's restart logs no error (Celery's gossip
    # step logged one, with a traceback, before the worker ran without it).
    restarted = [e for e in worker.json_lines() if "Gossip" in e.get("message", "")]
    assert restarted == []
