"""The web's database pool fails fast when PostgreSQL is down, and recovers by itself.

With the pool, psycopg_pool reconnects in its own threads and a request waiting
for a connection never sees the error: before ``media_analysis/db_backend/base.py``
made the web's pool fail fast, every request with PostgreSQL down waited the whole
``DB_POOL_TIMEOUT`` (30 s), so all of gunicorn's threads hung, cached reads queued
behind them and the breaker, which counts failures, never opened (found by
``benchmarks/load_faults.py --scenario dos``). Here a connection of the project's
backend, pooled as in production with a 30 s pool timeout and connection retries
off as in the web, runs against a PostgreSQL of the test's own that is stopped and
started again.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import OperationalError, connection, connections

from media_analysis import db_backend
from media_analysis.db_backend.base import FailFastGetconn
from media_analysis.env import parse_database_url

pytestmark = pytest.mark.slow

ALIAS = "fail_fast_probe"
POOL_TIMEOUT = 30  # production's DB_POOL_TIMEOUT: what a request used to wait


@pytest.fixture
def web_pool(own_postgres, monkeypatch, django_db_blocker):
    """A DatabaseWrapper of our backend on the test's own PostgreSQL, pooled, with
    connection retries off (as media_analysis/wsgi.py sets them in the web)."""
    monkeypatch.setattr(db_backend, "_retries_disabled", True)
    parsed = parse_database_url(own_postgres.url)
    options = {**parsed.pop("EXTRA_OPTIONS"), "connect_timeout": 10}
    options["pool"] = {"min_size": 2, "max_size": 4, "timeout": POOL_TIMEOUT}
    settings_dict = {
        **connection.settings_dict,
        **parsed,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
    }
    # Registered as a connection: django.contrib.postgres looks its alias up.
    connections.settings[ALIAS] = settings_dict
    wrapper = connections[ALIAS]
    try:
        with django_db_blocker.unblock():  # a server of the test's own, not the test database
            yield wrapper
            wrapper.close()
            wrapper.close_pool()
    finally:
        del connections[ALIAS]
        del connections.settings[ALIAS]


def select_one(wrapper) -> int:
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone()[0]
    finally:
        wrapper.close()  # back to the pool, as at the end of a request


def test_the_web_pool_fails_fast_while_postgresql_is_down_and_recovers(web_pool, own_postgres):
    assert select_one(web_pool) == 1
    assert isinstance(web_pool.pool.__dict__["getconn"], FailFastGetconn)

    own_postgres.stop()
    timings = []
    for _ in range(5):
        started = time.monotonic()
        with pytest.raises(OperationalError):
            select_one(web_pool)
        timings.append(time.monotonic() - started)
    print(f"\nPostgreSQL down: failed after {', '.join(f'{t:.2f}' for t in timings)} s")
    assert max(timings) < 2.0, timings  # not the 30 s pool timeout
    # Once the process has seen the pool fail, the next requests learn it at once.
    assert max(timings[1:]) < 0.1, timings

    own_postgres.start()
    back = time.monotonic()
    while True:
        try:
            assert select_one(web_pool) == 1
            break
        except OperationalError:
            assert time.monotonic() - back < 20, "the pool did not reconnect"
            time.sleep(0.2)
    print(f"PostgreSQL back: a query ran {time.monotonic() - back:.2f} s later")


def test_a_pool_that_is_merely_busy_still_waits(web_pool):
    """Saturation is not an outage: with every connection taken and no failed
    attempt, a request waits for one to be handed back (not a 503 after a slice)."""
    pool = web_pool.pool
    pool.open()
    held = [pool.getconn() for _ in range(4)]
    released = time.monotonic() + 1.0

    def give_back() -> None:
        time.sleep(1.0)
        pool.putconn(held.pop())

    threading.Thread(target=give_back).start()
    conn = pool.getconn(timeout=5)
    assert time.monotonic() >= released - 0.05
    pool.putconn(conn)
    for leftover in held:
        pool.putconn(leftover)


class CountingPool:
    """What FailFastGetconn reads of a pool: psycopg_pool's counters, set by the test
    as psycopg_pool sets them (connections_num when an attempt starts,
    connections_errors when it fails, connections_ms when it succeeds)."""

    timeout = POOL_TIMEOUT

    def __init__(self) -> None:
        self.stats = {"connections_num": 0, "connections_errors": 0, "connections_ms": 0}

    def get_stats(self) -> dict[str, int]:
        return dict(self.stats)

    def getconn(self, timeout: float | None = None):
        raise AssertionError("not used here")


def test_an_attempt_under_way_does_not_clear_a_known_failure():
    pool = CountingPool()
    getconn = FailFastGetconn(pool)
    pool.stats.update(connections_num=1, connections_errors=1)  # an attempt failed
    assert getconn.unreachable()
    pool.stats.update(connections_num=2)  # the next attempt has started, not ended
    assert getconn.unreachable()
    pool.stats.update(connections_num=3, connections_errors=2)  # it failed; another started
    assert getconn.unreachable()
    pool.stats.update(connections_ms=4)  # one succeeded
    assert not getconn.unreachable()
    assert not getconn.unreachable()  # and nothing failed since
    pool.stats.update(connections_num=4, connections_errors=3)
    assert getconn.unreachable()
