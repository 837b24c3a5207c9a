"""The backend's ``DatabaseWrapper``; the retry policy is in the package's ``__init__``.

In the web (connection retries off, see ``media_analysis/wsgi.py``) the pool also
fails fast when PostgreSQL is unreachable: see ``FailFastGetconn``.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

from django_prometheus.db.backends.postgresql import base

from media_analysis.db_backend import connect_retries_disabled, current_policy, with_retries

# Pools whose server has answered once in this process (see get_new_connection).
_pools_reached: weakref.WeakSet = weakref.WeakSet()

# How long a request waits for a pooled connection before it looks at whether the
# pool can reach PostgreSQL at all (and again after each such wait).
FAIL_FAST_SLICE_SECONDS = 0.25
# ...and once this process has seen the pool's attempts fail (none succeeding since):
# the next requests learn it in this long instead, until the database breaker opens
# (issue 12: writes during an outage answer 503 within 20 ms at the 99th percentile;
# each detection at a full slice cost 0.25-0.5 s). Still a real wait, so a request
# that finds the pool empty still makes it try to connect.
KNOWN_FAILING_SLICE_SECONDS = 0.01
# psycopg_pool retries a lost connection with a doubling backoff (1 s, 2 s, 4 s, ...)
# for up to its reconnect_timeout (5 min by default): after a minute's outage its
# next attempt may come a minute after PostgreSQL is back. In the web the chain
# gives up after this instead, and the next request that finds the pool empty starts
# a fresh attempt at once, so recovery follows PostgreSQL's return within seconds.
WEB_RECONNECT_TIMEOUT_SECONDS = 10.0


class FailFastGetconn:
    """``pool.getconn`` for the web: waits in slices of ``FAIL_FAST_SLICE_SECONDS``
    and raises ``PoolTimeout`` (an ``OperationalError``: 503, counted by the database
    breaker) as soon as the pool's own connection attempts fail with none succeeding.

    Without it a request with PostgreSQL down waits the whole ``DB_POOL_TIMEOUT``
    (30 s) in the pool's queue: psycopg_pool reconnects in its own threads and its
    waiting clients never see the error. Every thread of every worker then hangs,
    cached reads queue behind them, and the breaker, which counts failures, never
    opens. The first wait is always taken, so a request that finds the pool empty
    still makes it try to connect (that is how the pool recovers)."""

    def __init__(self, pool: Any):
        self.pool = pool
        self.getconn = pool.getconn
        self._lock = threading.Lock()
        made_ms, failed = self._counts()
        self._made_ms = made_ms
        self._failed_before_last_success = failed
        self._failing = False

    def _counts(self) -> tuple[int, int]:
        # (milliseconds spent on connections made, attempts failed). Not "attempts -
        # failures": psycopg_pool counts an attempt in connections_num when it starts,
        # so an attempt still under way looked like a success. connections_ms grows
        # only when one succeeds.
        stats = self.pool.get_stats()
        return stats.get("connections_ms", 0), stats.get("connections_errors", 0)

    def unreachable(self) -> bool:
        """True while the pool's attempts have failed since its last success.

        Read from the pool's counters alone: neither an attempt under way nor a
        stale connection handed out at an outage's start (both happen then) says
        PostgreSQL answers, and letting either clear what a failure taught made the
        first writes of an outage wait slice after slice until the pool's next
        attempt, a second later. A success that took under a millisecond does not
        show in connections_ms; the next one will."""
        with self._lock:
            made_ms, failed = self._counts()
            if made_ms > self._made_ms:  # a connection made since the last look
                self._made_ms = made_ms
                self._failed_before_last_success = failed
            self._failing = failed > self._failed_before_last_success
            return self._failing

    def __call__(self, timeout: float | None = None) -> Any:
        from psycopg_pool import PoolTimeout

        total = self.pool.timeout if timeout is None else timeout
        deadline = time.monotonic() + total
        while True:
            remaining = deadline - time.monotonic()
            wait = KNOWN_FAILING_SLICE_SECONDS if self._failing else FAIL_FAST_SLICE_SECONDS
            try:
                return self.getconn(timeout=max(0.001, min(wait, remaining)))
            except PoolTimeout:
                if time.monotonic() >= deadline:
                    raise PoolTimeout(f"couldn't get a connection after {total:.2f} sec") from None
                if self.unreachable():
                    raise PoolTimeout("no connection: the pool cannot reach PostgreSQL") from None


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        pool = super().pool
        if pool is not None and connect_retries_disabled() and not _fails_fast(pool):
            with _wrap_lock:
                if not _fails_fast(pool):
                    pool.reconnect_timeout = min(
                        pool.reconnect_timeout, WEB_RECONNECT_TIMEOUT_SECONDS
                    )
                    # Shadows the method on this pool object only: every caller
                    # (Django's get_new_connection, health checks) gets the rule.
                    pool.getconn = FailFastGetconn(pool)
        return pool

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        policy = current_policy()
        connect = super().get_new_connection
        if not policy.retries:
            return connect(conn_params)
        retry_on = (self.Database.OperationalError,)
        secret = self.settings_dict.get("PASSWORD") or ""
        pool = self.pool
        if pool is None:
            return with_retries(lambda: connect(conn_params), policy, retry_on, secret)
        # With the pool, psycopg_pool connects in its own threads and retries by
        # itself (backoff from 1 s, for up to reconnect_timeout); getconn() only
        # waits, up to DB_POOL_TIMEOUT, and never sees the error, so retrying it
        # would multiply that wait. The policy runs once per pool instead, before its
        # first connection: a direct connection proves the server answers (a command
        # started before PostgreSQL fails after the same 3.5 s as a worker). From
        # then on the pool reconnects by itself.
        if pool not in _pools_reached:
            probe = self.Database.connect
            with_retries(lambda: probe(**conn_params).close(), policy, retry_on, secret)
            _pools_reached.add(pool)
        return connect(conn_params)


_wrap_lock = threading.Lock()


def _fails_fast(pool: Any) -> bool:
    return isinstance(pool.__dict__.get("getconn"), FailFastGetconn)
