"""The pieces of recovery in-process: the heartbeat a run renews, and the run lock
that tells a dead run from a slow one. The whole story with real worker processes
killed, frozen and stopped is in tests/operations/test_worker_death.py."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection, transaction

from analysis.models import AnalysisRequest
from analysis.recovery import Heartbeat, advisory_key, run_is_alive, run_lock
from tests.conftest import database_url, force_status, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _processing() -> AnalysisRequest:
    return AnalysisRequest.objects.create(
        media_url="https://example.org/v.mp4", prompt="p", status="processing"
    )


def _other_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_the_heartbeat_is_renewed_while_the_run_lasts_and_its_connection_closed():
    request = _processing()
    before = _other_backends()
    with Heartbeat(request.id, interval=0.1):
        time.sleep(0.35)
        first = AnalysisRequest.objects.get(pk=request.id).heartbeat_at
        time.sleep(0.35)
        second = AnalysisRequest.objects.get(pk=request.id).heartbeat_at
    assert first is not None and second > first
    time.sleep(0.2)
    assert _other_backends() == before  # the thread's own connection is gone
    stopped = AnalysisRequest.objects.get(pk=request.id).heartbeat_at
    time.sleep(0.3)
    assert AnalysisRequest.objects.get(pk=request.id).heartbeat_at == stopped


def test_a_cancelled_request_s_heartbeat_is_not_renewed():
    request = _processing()
    force_status(request.id, "cancelled")
    with Heartbeat(request.id, interval=0.05):
        time.sleep(0.3)
    assert AnalysisRequest.objects.get(pk=request.id).heartbeat_at is None


def test_the_run_lock_is_exclusive_and_tells_a_live_run_from_a_dead_one():
    request = _processing()
    with psycopg.connect(database_url(connection.settings_dict["NAME"])) as live_run:
        live_run.execute("SELECT pg_advisory_lock(%s)", [advisory_key(request.id)])
        with run_lock(request.id) as acquired:
            assert acquired is False  # another worker is on it
        with transaction.atomic():
            assert run_is_alive(request.id) is True

    # The live run's session is gone (its worker died): the lock goes with it, as
    # soon as the server has noticed (a moment after the client closed).
    def lock_free() -> bool:
        with transaction.atomic():
            return not run_is_alive(request.id)

    wait_until(lock_free, 5, "the dead session's lock to be released", every=0.05)
    with run_lock(request.id) as acquired:
        assert acquired is True
