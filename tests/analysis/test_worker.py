"""End to end with a real Celery worker (celery.contrib.pytest) consuming from
real Redis and writing to real PostgreSQL: submit, the task runs, the request
completes; and the beat task revives a request whose worker died."""

from __future__ import annotations

import time

import pytest

from analysis import services
from analysis.models import AnalysisRequest, AnalysisResult
from tests.analysis.conftest import chunks_of

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


def test_a_stalled_request_is_requeued_and_completed(storage_root, small_image, celery_worker):
    from datetime import timedelta

    from django.utils import timezone

    request = services.submit_upload_request(
        chunks=chunks_of(small_image), original_filename="p.jpg", prompt="Describe"
    )
    _wait_for_status(request.id, {"completed"})
    # Pretend its worker died mid-way an hour ago: processing, no result.
    AnalysisResult.objects.filter(request=request).delete()
    AnalysisRequest.objects.filter(pk=request.id).update(
        status="processing", started_at=timezone.now() - timedelta(hours=2)
    )
    counts = services.requeue_stalled(
        stuck_before=timezone.now() - timedelta(hours=1),
        pending_before=timezone.now() - timedelta(hours=1),
    )
    assert counts["requeued_stuck"] == 1
    done = _wait_for_status(request.id, {"completed", "failed"})
    assert done.status == "completed"
    assert done.retry_count == 1
    assert AnalysisResult.objects.filter(request=done).count() == 1
