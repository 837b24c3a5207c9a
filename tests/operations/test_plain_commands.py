"""The processes started with the README's plain commands: a worker without -Q
runs analyses (every queue is declared), -Q still narrows it, and every line web,
worker and beat write is one JSON object carrying the request's ids."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import wait_until
from tests.operations.stack import submit_upload

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _status(api, analysis_id: str) -> str:
    return api.get(f"/api/media/status/{analysis_id}").json()["status"]


def test_the_plain_worker_command_runs_an_analysis_in_one_json_log_stream(stack, image):
    web = stack.start_web()
    worker = stack.start_worker()  # celery -A media_analysis worker -l info: no -Q
    beat = stack.start_beat()
    correlation_id, http_request_id = str(uuid.uuid4()), str(uuid.uuid4())
    with stack.api() as api:
        response = submit_upload(
            api,
            image,
            headers={"X-Correlation-ID": correlation_id, "X-Request-ID": http_request_id},
        )
        assert response.status_code == 202, response.text
        analysis_id = response.json()["id"]
        wait_until(lambda: _status(api, analysis_id) == "completed", 60, "the analysis")

    starting = next(e for e in worker.json_lines() if e["message"] == "celery worker starting")
    assert starting["queues"] == ["default", "maintenance", "media", "media.heavy", "media.light"]

    # The web lines that handled the submission carry both ids (the access line is
    # written within a second: they go out in batches).
    def submit_lines() -> list[dict]:
        return [e for e in web.json_lines() if e.get("request_id") == http_request_id]

    def access() -> list[dict]:
        return [e for e in submit_lines() if e["logger"] == "gunicorn.access"]

    wait_until(access, 5, "the submission's access line")
    assert [(e["method"], e["path"], e["status"]) for e in access()] == [
        ("POST", "/api/media/analyze", 202)
    ]
    assert {e.get("correlation_id") for e in submit_lines()} == {correlation_id}

    # Every worker line about this analysis's task carries them too, and its id.
    worker_lines = worker.json_lines()
    task_ids = {e["task_id"] for e in worker_lines if e.get("analysis_id") == analysis_id}
    assert len(task_ids) == 1
    task_lines = [e for e in worker_lines if e.get("task_id") in task_ids]
    messages = [e["message"] for e in task_lines]
    assert any(m.endswith("received") for m in messages)
    assert any("succeeded" in m for m in messages)
    assert "analysis task finished" in messages
    for entry in task_lines:
        assert entry.get("correlation_id") == correlation_id, entry
        assert entry.get("request_id") == http_request_id, entry
        assert entry.get("analysis_id") == analysis_id, entry

    assert any(e["message"] == "celery beat starting" for e in beat.json_lines())


def test_dash_q_still_selects_a_dedicated_pool(stack):
    worker = stack.start_worker("-Q", "media")
    starting = next(e for e in worker.json_lines() if e["message"] == "celery worker starting")
    assert starting["queues"] == ["media"]
