"""The web's access lines are written in batches (media_analysis/gunicorn_logging.py),
started as the README and docker-compose.yml start it: a line shows up within the
interval (1 s by default) without any flush asked for, and lines still queued when
gunicorn is stopped (SIGTERM, as `docker stop` sends) are written before it exits."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.conftest import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DEFAULT_INTERVAL = 1.0


def access_lines(web, request_ids: set[str]) -> list[dict]:
    return [
        entry
        for entry in web.json_lines()
        if entry["logger"] == "gunicorn.access" and entry.get("request_id") in request_ids
    ]


def test_access_lines_appear_within_the_interval_and_none_is_lost_on_stop(stack):
    web = stack.start_web()
    with stack.api() as api:
        first = {str(uuid.uuid4()) for _ in range(3)}
        for request_id in first:
            assert api.get("/api/media/history", headers={"X-Request-ID": request_id}).is_success
        sent = time.monotonic()
        wait_until(lambda: len(access_lines(web, first)) == 3, 5, "the first access lines")
        assert time.monotonic() - sent < DEFAULT_INTERVAL + 0.75

        last = {str(uuid.uuid4()) for _ in range(5)}
        for request_id in last:
            assert api.get("/api/media/history", headers={"X-Request-ID": request_id}).is_success
    assert web.terminate() == 0  # at once: the lines are still queued
    lines = access_lines(web, last)
    assert sorted(e["request_id"] for e in lines) == sorted(last)
    assert {(e["method"], e["path"], e["status"]) for e in lines} == {
        ("GET", "/api/media/history", 200)
    }
