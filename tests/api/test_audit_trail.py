"""GET /api/media/{id}/audit: a request's whole story, for its owner and staff."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.django_db


def _submit(caller, cid: str) -> str:
    response = caller.client.post(
        "/api/media/analyze",
        {"media_url": "http://127.0.0.1:9/a.mp4", "prompt": "describe"},
        format="json",
        HTTP_X_CORRELATION_ID=cid,
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def test_the_owner_sees_each_change_with_actor_and_values(alice, allow_local_media):
    cid = str(uuid.uuid4())
    request_id = _submit(alice, cid)
    assert alice.client.post(f"/api/media/{request_id}/cancel").status_code == 200

    response = alice.client.get(f"/api/media/{request_id}/audit")
    assert response.status_code == 200
    body = response.json()
    assert body["request_id"] == request_id
    assert body["truncated"] is False
    mine = [e for e in body["entries"] if e["table_name"] == "media_analysis_requests"]
    assert [e["action"] for e in mine] == ["INSERT", "UPDATE"]
    insert, cancel = mine
    assert insert["performed_by"] == "alice"
    assert insert["correlation_id"] == cid
    assert insert["record_id"] == request_id
    assert cancel["old_values"]["status"] == "pending"
    assert cancel["new_values"]["status"] == "cancelled"


def test_others_get_404_and_staff_see_it(alice, bob, staff, allow_local_media, client):
    request_id = _submit(alice, str(uuid.uuid4()))
    assert bob.client.get(f"/api/media/{request_id}/audit").status_code == 404
    assert staff.client.get(f"/api/media/{request_id}/audit").status_code == 200
    assert client.get(f"/api/media/{request_id}/audit").status_code == 401
    bad = alice.client.get("/api/media/not-a-uuid/audit")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_id"
