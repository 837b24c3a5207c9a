"""A busy connection pool is not a database outage (issue 12, pool saturation).

The default connection's pool is rebuilt tiny (one connection, a 1-second wait) and
its only connection is held by another thread, a real checked-out PostgreSQL
connection: a request that cannot get one answers 503 ``database_busy`` with
Retry-After, and the database breaker records no verdict however often it happens.
A pool that cannot reach PostgreSQL (a port nobody listens on; this suite's own
PostgreSQL stopped after the pool had worked) still counts, and opens the breaker.
The whole service under the squeezed pool is ``benchmarks/mixed_load.py --scenario
saturation``.
"""

from __future__ import annotations

import contextlib
import threading
import uuid

import pytest
from django.db import connection, connections
from psycopg.conninfo import conninfo_to_dict

from media_analysis import resilience
from media_analysis.embedded import free_port
from media_analysis.resilience import DatabaseBusy, DependencyUnavailable, call_database

pytestmark = pytest.mark.django_db(transaction=True)

TINY_POOL = {"min_size": 1, "max_size": 1, "timeout": 1}


@pytest.fixture
def fast_breaker(settings):
    settings.DB_BREAKER_FAIL_MAX = 2
    settings.DB_BREAKER_RESET_TIMEOUT = 30
    resilience.reset_breakers()


@contextlib.contextmanager
def default_pool(**where: str):
    """The default connection's pool rebuilt as TINY_POOL (on another server when
    ``where`` says so), for every thread; the original restored afterwards."""
    settings_dict = connection.settings_dict  # shared by every thread's wrapper
    saved = {key: settings_dict.get(key) for key in ("NAME", "USER", "HOST", "PORT", "OPTIONS")}
    connection.close()
    connection.close_pool()
    settings_dict.update(where)
    settings_dict["OPTIONS"] = {**saved["OPTIONS"], "pool": TINY_POOL}
    try:
        yield connection.pool
    finally:
        connection.close()
        connection.close_pool()
        settings_dict.update(saved)


@contextlib.contextmanager
def connection_held():
    """Another thread checks out the pool's only connection until the block ends."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            connections["default"].ensure_connection()
            taken.set()
            release.wait(30)
        finally:
            connections["default"].close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(10), "the holder got no connection"
    try:
        yield
    finally:
        release.set()
        holder.join()


def select_one() -> tuple:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone()


def test_a_busy_pool_answers_database_busy_and_never_opens_the_breaker(fast_breaker):
    with default_pool(), connection_held():
        for _ in range(4):  # twice the breaker's failure limit
            with pytest.raises(DatabaseBusy) as busy:
                call_database(connection.ensure_connection)
            assert busy.value.http_status == 503 and busy.value.code == "database_busy"
            assert busy.value.http_headers() == {"Retry-After": "1"}
            assert resilience.breaker_states()["database"] == "closed"
            connection.close()
    # The holder gave its connection back: the next request gets it at once.
    with default_pool():
        assert call_database(select_one) == (1,)


def test_the_api_answers_503_with_retry_after_naming_the_busy_pool(fast_breaker, alice):
    # A request nobody cached: its status must come from PostgreSQL.
    path = f"/api/media/status/{uuid.uuid4()}"
    assert alice.client.get(path).status_code == 404  # and the token is now cached
    with default_pool(), connection_held():
        for _ in range(3):
            response = alice.client.get(path)
            assert response.status_code == 503, response.content
            assert response["Retry-After"] == "1"
            error = response.json()["error"]
            assert error["code"] == "database_busy"
            assert "busy" in error["message"] and "nothing was changed" in error["message"]
            assert error["retry_after"] == 1
        assert resilience.breaker_states()["database"] == "closed"


def test_a_pool_that_cannot_reach_postgresql_opens_the_breaker(fast_breaker):
    with default_pool(HOST="127.0.0.1", PORT=str(free_port())):
        for _ in range(2):
            with pytest.raises(DependencyUnavailable) as failed:
                call_database(connection.ensure_connection)
            assert failed.value.code == "database_unavailable"
            connection.close()
        assert resilience.breaker_states()["database"] == "open"


@pytest.mark.slow
def test_postgresql_stopped_under_a_pool_that_worked_opens_the_breaker(fast_breaker, own_postgres):
    server = conninfo_to_dict(own_postgres.url)
    where = {"NAME": server["dbname"], "USER": server.get("user", ""), "HOST": server["host"]}
    where["PORT"] = str(server.get("port", ""))
    with default_pool(**where):
        call_database(select_one)
        connection.close()  # back in the pool, idle
        own_postgres.stop()
        codes = []
        for _ in range(3):
            with pytest.raises(DependencyUnavailable) as failed:
                call_database(connection.ensure_connection)
            codes.append(failed.value.code)
            connection.close()
        assert codes[:2] == ["database_unavailable"] * 2, codes
        assert resilience.breaker_states()["database"] == "open"
