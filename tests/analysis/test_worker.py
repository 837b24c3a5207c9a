"""End to end with a real Celery worker (celery.contrib.pytest) consuming from
real Redis and writing to real PostgreSQL: submit, the task runs, the request
completes; and the recovery revives a request whose worker died (the real SIGKILL is in
tests/operations/)."""

from __future__ import annotations

import time

import pytest

from analysis import services
from analysis.models import AnalysisRequest, AnalysisResult
from tests.analysis.conftest import chunks_of
from tests.conftest import force_status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _wait_for_status(request_id, statuses, timeout=60.0) -> AnalysisRequest:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        request = AnalysisRequest.objects.get(pk=request_id)
        if request.status in statuses:
            return request
        time.sleep(0.2)
    raise AssertionError(f"request stayed {request.status}")


def test_submitted_upload_is_completed_by_the_worker(storage_root, small_video, celery_worker):
    request = services.submit_upload_request(
        chunks=chunks_of(small_video), original_filename="clip.mp4", prompt="Summarise"
    )
    done = _wait_for_status(request.id, {"completed", "failed"})
    assert done.status == "completed", (done.error_code, done.error_message)
    assert AnalysisResult.objects.filter(request=done).count() == 1
    assert done.contact_sheets.count() == 1


def test_an_abandoned_request_is_recovered_and_completed_once(
    storage_root, small_image, celery_worker
):
    from datetime import timedelta

    from django.utils import timezone

    from analysis.recovery import recover_abandoned

    request = services.submit_upload_request(
        chunks=chunks_of(small_image), original_filename="p.jpg", prompt="Describe"
    )
    _wait_for_status(request.id, {"completed"})
    # Pretend its worker died mid-way a minute ago: processing, stale heartbeat, no result.
    AnalysisResult.objects.filter(request=request).delete()
    long_ago = timezone.now() - timedelta(minutes=1)
    force_status(request.id, "processing", started_at=long_ago, heartbeat_at=long_ago)
    assert recover_abandoned()["recovered"] == 1
    done = _wait_for_status(request.id, {"completed", "failed"})
    assert done.status == "completed"
    assert done.retry_count == 0
    assert done.metadata["recoveries"] == 1
    assert AnalysisResult.objects.filter(request=done).count() == 1
    assert done.contact_sheets.count() <= 1
