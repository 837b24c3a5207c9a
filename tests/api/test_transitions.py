"""Retry, cancel and soft delete through the API (the rules are the services')."""

from __future__ import annotations

import pytest

from analysis.models import AnalysisRequest, AnalysisResult, AnalysisStatus
from tests.api.conftest import error_of, make_completed, make_request

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("start", [AnalysisStatus.FAILED, AnalysisStatus.CANCELLED])
def test_retry_puts_a_failed_or_cancelled_request_back_to_pending(alice, start):
    request = make_request(
        alice.user, status=start, error_code="x", error_message="y", retry_count=3
    )
    response = alice.client.post(f"/api/media/{request.id}/retry")
    assert response.status_code == 202
    assert response.json()["status"] == "pending" and response.json()["retry_count"] == 4
    request.refresh_from_db()
    assert (request.status, request.retry_count, request.error_code) == ("pending", 4, None)


@pytest.mark.parametrize(
    "start", [AnalysisStatus.PENDING, AnalysisStatus.PROCESSING, AnalysisStatus.COMPLETED]
)
def test_retry_of_anything_else_is_409_with_the_reason(alice, start):
    request = make_request(alice.user, status=start)
    response = alice.client.post(f"/api/media/{request.id}/retry")
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "not_retryable" and start in error["message"]
    request.refresh_from_db()
    assert request.status == start and request.retry_count == 0


def test_retry_stops_at_ten(alice):
    request = make_request(alice.user, status=AnalysisStatus.FAILED, retry_count=10)
    response = alice.client.post(f"/api/media/{request.id}/retry")
    assert response.status_code == 409
    assert error_of(response)["code"] == "retry_limit_reached"


@pytest.mark.parametrize("start", [AnalysisStatus.PENDING, AnalysisStatus.PROCESSING])
def test_cancel(alice, start):
    request = make_request(alice.user, status=start)
    response = alice.client.post(f"/api/media/{request.id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert alice.client.get(f"/api/media/status/{request.id}").json()["status"] == "cancelled"


def test_cancel_of_a_completed_request_is_409(alice):
    request = make_completed(alice.user)
    response = alice.client.post(f"/api/media/{request.id}/cancel")
    assert response.status_code == 409
    assert error_of(response)["code"] == "not_cancellable"


def test_delete_is_soft(alice):
    request = make_completed(alice.user)
    assert alice.client.get(f"/api/media/status/{request.id}").status_code == 200
    response = alice.client.delete(f"/api/media/{request.id}")
    assert response.status_code == 204 and response.content == b""
    assert alice.client.get(f"/api/media/status/{request.id}").status_code == 404
    assert alice.client.get(f"/api/media/{request.id}/contact-sheet").status_code == 404
    assert alice.client.get("/api/media/history").json()["count"] == 0
    row = AnalysisRequest.objects.get(pk=request.id)
    assert row.status == "deleted" and row.deleted_at is not None
    assert AnalysisResult.objects.filter(request_id=request.id).count() == 1
    assert alice.client.delete(f"/api/media/{request.id}").status_code == 404
    assert alice.client.post(f"/api/media/{request.id}/retry").status_code == 404


def test_staff_may_act_on_any_request(alice, staff):
    request = make_request(alice.user)
    assert staff.client.post(f"/api/media/{request.id}/cancel").status_code == 200
