"""The status body's ``progress`` (issue 14): queued while pending, the run's stage
and percent while processing, fresh on the poll after each change although the
body is cached, and null once the request has ended."""

from __future__ import annotations

import pytest

from analysis import pipeline
from analysis.progress import Stage, Tracker
from tests.api.conftest import make_completed, make_request

pytestmark = pytest.mark.django_db


def poll(caller, request_id):
    response = caller.client.get(f"/api/media/status/{request_id}")
    assert response.status_code == 200
    return response


def test_a_pending_request_is_queued(alice):
    request = make_request(alice.user)
    for _ in range(2):  # from the database, then from the cache
        assert poll(alice, request.id).json()["progress"] == {
            "stage": "queued",
            "percent": None,
            "updated_at": None,
        }


def test_each_stage_and_percent_shows_on_the_next_poll(alice):
    request = make_request(alice.user)
    poll(alice, request.id)
    claimed, tracker = pipeline._claim(request.id)  # writes the run's first stage

    first = poll(alice, request.id)
    assert first.json()["status"] == "processing"
    progress = first.json()["progress"]
    assert (progress["stage"], progress["percent"]) == ("downloading", None)
    assert progress["updated_at"].endswith("Z")
    assert poll(alice, request.id)["X-Data-Source"] == "cache"

    tracker.clock = lambda: tracker.written_at + 2  # a second has passed
    tracker.advance(420, 1000)
    response = poll(alice, request.id)
    assert response["X-Data-Source"] == "database"  # the change made the cached body stale
    assert response.json()["progress"]["percent"] == 42

    tracker.enter(Stage.ASKING_PROVIDER)
    progress = poll(alice, request.id).json()["progress"]
    assert (progress["stage"], progress["percent"]) == ("asking_provider", None)
    assert poll(alice, request.id).json()["progress"]["stage"] == "asking_provider"

    run = pipeline.Run(request=claimed, options=None, progress=tracker)
    pipeline._fail(run, "boom", "It broke.")
    body = poll(alice, request.id).json()
    assert body["status"] == "failed" and body["progress"] is None


def test_an_earlier_runs_progress_is_not_shown(alice):
    request = make_request(alice.user)
    pipeline._claim(request.id)
    Tracker(request.id, run=12345).enter(Stage.RECORDING)  # another run's value
    assert poll(alice, request.id).json()["progress"] is None


def test_a_completed_request_has_no_progress(alice):
    request = make_completed(alice.user)
    assert poll(alice, request.id).json()["progress"] is None


def test_the_schema_describes_progress(alice):
    response = alice.client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema = response.json()
    status = schema["components"]["schemas"]["Status"]["properties"]["progress"]
    assert status["nullable"] is True
    assert status["allOf"] == [{"$ref": "#/components/schemas/Progress"}]
    progress = schema["components"]["schemas"]["Progress"]["properties"]
    (reference,) = progress["stage"]["allOf"]
    stage = schema["components"]["schemas"][reference["$ref"].rsplit("/", 1)[1]]
    assert stage["enum"] == [s.value for s in Stage]
    assert progress["percent"]["nullable"] is True
    assert (progress["percent"]["minimum"], progress["percent"]["maximum"]) == (0, 100)
