"""The frames of a video in the status response (index, timestamp, URL) and
GET /api/media/{id}/frames/{index}: the JPEG, owner and staff only, JSON 404s."""

from __future__ import annotations

import pytest

from analysis.models import AnalysisRequest
from storage_app.layout import Category, frame_name
from storage_app.records import record_media_file
from storage_app.writer import store_file
from tests.api.conftest import error_of, jpeg_bytes, make_completed, make_request

pytestmark = pytest.mark.django_db

TIMES = [1.0, 4.0, 10.0]


def with_frames(owner) -> AnalysisRequest:
    """A completed video request whose facts list three frames, stored as the
    pipeline stores them (frames/{date}/{id}/frame_NNN.jpg, indexed)."""
    request = make_completed(owner)
    facts = {
        "frames": [
            {
                "path": f"/work/frame_{i:03d}.jpg",
                "time_s": t,
                "keyframe": True,
                "width": 64,
                "height": 48,
                "index": i,
                "scene": i,
            }
            for i, t in enumerate(TIMES, start=1)
        ]
    }
    request.metadata = {**request.metadata, "facts": facts}
    request.save(update_fields=["metadata"])
    for index in range(1, len(TIMES) + 1):
        stored = store_file(
            jpeg_bytes((64 + index, 48)),
            category=Category.FRAMES,
            request_id=request.id,
            name=frame_name(index),
            on_date=request.created_at,
        )
        record_media_file(stored, mime_type="image/jpeg")
    return request


def test_the_status_lists_the_frames_with_timestamps_and_urls(alice):
    request = with_frames(alice.user)
    body = alice.client.get(f"/api/media/status/{request.id}").json()
    assert body["frames"] == [
        {
            "index": i,
            "timestamp_seconds": t,
            "scene": i,
            "url": f"/api/media/{request.id}/frames/{i}",
        }
        for i, t in enumerate(TIMES, start=1)
    ]
    for frame in body["frames"]:
        image = alice.client.get(frame["url"], HTTP_ACCEPT="image/jpeg")
        assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
        assert b"".join(image.streaming_content) == jpeg_bytes((64 + frame["index"], 48))


def test_requests_without_frames_list_none(alice):
    assert (
        alice.client.get(f"/api/media/status/{make_request(alice.user).id}").json()["frames"] == []
    )
    completed = make_completed(alice.user)  # no facts: an image, say
    assert alice.client.get(f"/api/media/status/{completed.id}").json()["frames"] == []


def test_a_frame_is_for_its_owner_and_staff_only(alice, bob, staff):
    request = with_frames(alice.user)
    path = f"/api/media/{request.id}/frames/2"
    assert error_of(bob.client.get(path))["code"] == "not_found"
    assert staff.client.get(path).status_code == 200
    assert alice.client.get(path).status_code == 200


def test_missing_frames_are_json_404s(alice, storage_root):
    request = with_frames(alice.user)
    for index in (0, 4, 99):
        response = alice.client.get(
            f"/api/media/{request.id}/frames/{index}", HTTP_ACCEPT="image/jpeg"
        )
        assert response.status_code == 404
        assert error_of(response)["code"] == "no_frame"
    for file in (storage_root / "frames").rglob("frame_001.jpg"):
        file.unlink()
    response = alice.client.get(f"/api/media/{request.id}/frames/1")
    assert response.status_code == 404
    assert error_of(response)["code"] == "frame_missing"
    response = alice.client.get("/api/media/not-a-uuid/frames/1")
    assert response.status_code == 400 and error_of(response)["code"] == "invalid_id"


def test_an_index_that_is_not_a_number_is_a_json_400(alice):
    request = with_frames(alice.user)
    for index in ("null,null", "-1", "1.5", "%C2%B2", "1234567"):
        response = alice.client.get(f"/api/media/{request.id}/frames/{index}")
        assert response.status_code == 400, (index, response.content)
        assert error_of(response)["code"] == "invalid_frame_index"
        assert error_of(response)["field"] == "index"
