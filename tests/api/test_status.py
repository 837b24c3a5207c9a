"""GET /api/media/status/{id} and the contact sheet: content, caching (TTLs, hit and
miss counters, invalidation on every state change) and bad ids."""

from __future__ import annotations

import pytest
from django_redis import get_redis_connection

from analysis import cache, services
from analysis.models import AnalysisRequest, AnalysisStatus
from tests.api.conftest import error_of, jpeg_bytes, make_completed, make_request, new_id
from tests.conftest import SCRAPE

pytestmark = pytest.mark.django_db


def status_of(caller, request_id):
    return caller.client.get(f"/api/media/status/{request_id}")


def test_a_pending_request(alice):
    request = make_request(alice.user, original_filename="clip.mp4")
    response = status_of(alice, request.id)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(request.id)
    assert body["status"] == "pending"
    assert body["result"] is None and body["contact_sheet"] is None and body["error"] is None
    assert body["retry_count"] == 0
    assert body["original_filename"] == "clip.mp4"
    assert {"created_at", "started_at", "completed_at", "latency_ms", "correlation_id"} <= set(body)


def test_a_completed_request_carries_its_result_and_contact_sheet(alice):
    request = make_completed(alice.user)
    body = status_of(alice, request.id).json()
    assert body["status"] == "completed"
    assert body["result"] == {
        "text": "A red square.",
        "data": None,  # a free-text answer (no options.response_schema)
        "model_used": "builtin-report",
        "provider": "builtin",
        "input_tokens": 100,
        "output_tokens": 20,
        "tokens": 120,
        "cost_usd": "0.001250",
        "latency_ms": 800,
        "created_at": body["result"]["created_at"],
    }
    sheet = body["contact_sheet"]
    assert (
        sheet["frames_count"] == 6
        and sheet["grid_layout"] == "2x3"
        and sheet["resolution"] == "1920x1080"
    )
    image = alice.client.get(sheet["url"])
    assert image.status_code == 200
    assert image["Content-Type"] == "image/jpeg"
    assert b"".join(image.streaming_content) == jpeg_bytes()


def test_a_failed_request_shows_its_error(alice):
    request = make_request(
        alice.user,
        status=AnalysisStatus.FAILED,
        error_code="download_failed",
        error_message="The server answered 500.",
        retry_count=2,
    )
    body = status_of(alice, request.id).json()
    assert body["error"] == {"code": "download_failed", "message": "The server answered 500."}
    assert body["retry_count"] == 2


def test_the_contact_sheet_is_for_its_owner_and_staff_only(alice, bob, staff):
    request = make_completed(alice.user)
    path = f"/api/media/{request.id}/contact-sheet"
    assert bob.client.get(path).status_code == 404
    assert staff.client.get(path).status_code == 200
    assert alice.client.get(path, HTTP_ACCEPT="image/jpeg").status_code == 200


def test_a_missing_contact_sheet_is_a_json_404(alice, storage_root):
    pending = make_request(alice.user)
    response = alice.client.get(f"/api/media/{pending.id}/contact-sheet", HTTP_ACCEPT="image/jpeg")
    assert response.status_code == 404
    assert error_of(response)["code"] == "no_contact_sheet"
    completed = make_completed(alice.user)
    for file in (storage_root / "contact-sheets").rglob("*.jpg"):
        file.unlink()
    response = alice.client.get(f"/api/media/{completed.id}/contact-sheet")
    assert error_of(response)["code"] == "contact_sheet_missing"


@pytest.mark.parametrize(
    "bad", ["42", "not-a-uuid", "'; DROP TABLE media_analysis_requests; --", "%00"]
)
def test_a_non_uuid_id_is_a_named_400(alice, bad):
    for path in (f"/api/media/status/{bad}", f"/api/media/{bad}/contact-sheet"):
        response = alice.client.get(path)
        assert response.status_code == 400
        assert error_of(response)["code"] == "invalid_id"
    response = alice.client.post(f"/api/media/{bad}/retry")
    assert error_of(response)["code"] == "invalid_id"
    assert AnalysisRequest.objects.count() == 0


def test_an_unknown_id_is_404(alice):
    response = status_of(alice, new_id())
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


# -------------------------------------------------------------------- cache
def ttl_of(request_id) -> int:
    return get_redis_connection("default").ttl(cache.key(cache.STATUS, request_id))


def test_status_is_served_from_the_cache_with_the_plan_ttls(alice):
    pending = make_request(alice.user)
    completed = make_completed(alice.user)
    for request in (pending, completed):
        assert status_of(alice, request.id)["X-Data-Source"] == "database"
        assert status_of(alice, request.id)["X-Data-Source"] == "cache"
    assert 290 < ttl_of(pending.id) <= 300
    assert 3590 < ttl_of(completed.id) <= 3600


def test_hits_and_misses_are_counted(alice, client):
    cache.reset_cache_stats()
    request = make_request(alice.user)
    for _ in range(10):
        status_of(alice, request.id)
    stats = cache.cache_stats()["status"]
    assert stats == {"lookups": 10, "misses": 1, "hits": 9}
    metrics = client.get("/metrics", **SCRAPE).content.decode()
    assert 'media_analysis_cache_lookups_total{kind="status"} 10.0' in metrics
    assert 'media_analysis_cache_hit_ratio{kind="status"} 0.9' in metrics


@pytest.mark.parametrize(
    ("start", "change", "expected"),
    [
        (AnalysisStatus.PENDING, services.cancel_request, "cancelled"),
        (AnalysisStatus.FAILED, services.retry_request, "pending"),
        (AnalysisStatus.CANCELLED, services.retry_request, "pending"),
    ],
)
def test_every_state_change_invalidates_the_cached_status(alice, start, change, expected):
    request = make_request(alice.user, status=start)
    status_of(alice, request.id)
    assert status_of(alice, request.id)["X-Data-Source"] == "cache"
    change(request.id)
    response = status_of(alice, request.id)
    assert response["X-Data-Source"] == "database"
    assert response.json()["status"] == expected


def test_the_pipeline_state_changes_invalidate_too(alice):
    from analysis import pipeline

    request = make_request(alice.user)
    status_of(alice, request.id)
    claimed, tracker = pipeline._claim(request.id)
    assert status_of(alice, request.id).json()["status"] == "processing"
    run = pipeline.Run(request=claimed, options=None, progress=tracker)
    pipeline._fail(run, "boom", "It broke.")
    body = status_of(alice, request.id).json()
    assert body["status"] == "failed" and body["error"]["code"] == "boom"


def test_soft_delete_makes_the_cached_status_404(alice):
    request = make_request(alice.user)
    status_of(alice, request.id)
    services.soft_delete_request(request.id)
    assert status_of(alice, request.id).status_code == 404


def test_a_slow_reader_cannot_cache_data_older_than_a_change(alice):
    """The race a DELETE-based invalidation loses: a reader reads the row, a writer
    changes it and invalidates, then the reader stores what it read. Generations make
    that stored entry unusable."""
    request = make_request(alice.user)
    lookup = cache.lookup_status(request.id)  # the reader starts (miss)
    stale_body = b'{"status":"pending"}'
    services.cancel_request(request.id)  # the writer changes and invalidates
    cache.store_status(
        request.id, lookup, owner_id=alice.user.pk, status="pending", body=stale_body
    )
    assert not cache.lookup_status(request.id).hit
    assert status_of(alice, request.id).json()["status"] == "cancelled"


def test_a_lost_invalidation_is_made_up_when_redis_answers_again(alice, monkeypatch):
    request = make_request(alice.user)
    status_of(alice, request.id)
    assert cache.lookup_status(request.id).hit
    # Redis unreachable for the bump: it is lost, and the process remembers it.
    monkeypatch.setattr(cache, "redis_call", lambda fn, default=None: default)
    cache.invalidate_request(request)
    monkeypatch.undo()
    assert not cache.lookup_status(request.id).hit
