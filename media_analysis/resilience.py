"""Circuit breakers for the two dependencies every request touches: PostgreSQL and Redis.

Both use :mod:`media_analysis.breaker`: open after ``*_BREAKER_FAIL_MAX``
consecutive failures, half-open after ``*_BREAKER_RESET_TIMEOUT`` seconds with at
most ``BREAKER_HALF_OPEN_MAX_TRIALS`` trial calls in flight, closed after
``*_BREAKER_SUCCESS_THRESHOLD`` good trials. While a breaker refuses, calls fail at
once: no connection attempt, no socket timeout per request.

- The **Redis** breaker keeps its state in this process's memory (keeping it in
  Redis would need the very thing that is down). Redis calls go through
  ``redis_call(fn, default)``, which answers ``default`` when Redis fails: callers
  carry on from PostgreSQL.
- The **database** breaker keeps its state in Redis while Redis is up, reached
  through the Redis breaker, so every gunicorn worker and Celery process opens
  together and a recovering PostgreSQL sees at most the trial cap across all of
  them; when Redis is down it carries on in memory from the last state it saw.
  Database work goes through ``call_database(fn)``, which raises
  ``DependencyUnavailable`` (HTTP 503 + Retry-After) when the breaker refuses or
  PostgreSQL fails.
- **A busy pool is not an outage.** A request that waited ``DB_POOL_TIMEOUT`` for a
  pooled connection while every connection served other requests gets
  ``DatabaseBusy`` (503 ``database_busy`` + Retry-After), and the breaker records no
  verdict: a burst must not make the whole service refuse for the reset timeout.
  The same timeout while the pool fails to connect (its latest connection attempt
  failed) is an outage, and counts. See ``pool_exhausted``.

One breaker object per dependency serves every thread: it holds no lock during
the guarded call, so a slow query never queues the other requests.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from psycopg_pool import PoolTimeout

from media_analysis.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    Breaker,
    BreakerConfig,
    BreakerOpen,
    FallbackStore,
    MemoryStore,
    RedisStore,
    StoreUnavailable,
)
from media_analysis.errors import ServiceError

logger = logging.getLogger(__name__)

T = TypeVar("T")

DATABASE = "database"
REDIS = "redis"
# Numeric values of the breaker-state gauge.
STATE_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}

DATABASE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis
    from django_redis.exceptions import ConnectionInterrupted

    return (
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        ConnectionInterrupted,
        OSError,
    )


REDIS_ERRORS = _redis_errors()


class DependencyUnavailable(ServiceError):
    """PostgreSQL (or another dependency) cannot be used now: answer 503 with
    ``Retry-After`` and try again later. Nothing was written."""

    http_status = 503

    def __init__(self, dependency: str, message: str, *, retry_after: int):
        super().__init__(f"{dependency}_unavailable", message)
        self.dependency = dependency
        self.retry_after = retry_after

    def details(self) -> dict[str, Any]:
        return {"retry_after": self.retry_after}

    def http_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


BUSY_RETRY_AFTER_SECONDS = 1


class DatabaseBusy(DependencyUnavailable):
    """No pooled connection came free within ``DB_POOL_TIMEOUT``: PostgreSQL answers,
    this server is at capacity. 503 ``database_busy`` with Retry-After; nothing was
    written, and the database breaker records no verdict."""

    def __init__(self, retry_after: int = BUSY_RETRY_AFTER_SECONDS):
        super().__init__(
            DATABASE,
            "The server is busy: no database connection came free in time; nothing was"
            " changed. Try again shortly.",
            retry_after=retry_after,
        )
        self.code = "database_busy"


# -------------------------------------------------------------------- breakers
_SETTING_PREFIX = {DATABASE: "DB", REDIS: "REDIS"}


def _config_reader(name: str) -> Callable[[], BreakerConfig]:
    prefix = _SETTING_PREFIX[name]

    def read() -> BreakerConfig:
        return BreakerConfig(
            fail_max=getattr(settings, f"{prefix}_BREAKER_FAIL_MAX"),
            reset_timeout=getattr(settings, f"{prefix}_BREAKER_RESET_TIMEOUT"),
            success_threshold=getattr(settings, f"{prefix}_BREAKER_SUCCESS_THRESHOLD"),
            max_trials=settings.BREAKER_HALF_OPEN_MAX_TRIALS,
            permit_seconds=settings.BREAKER_TRIAL_PERMIT_SECONDS,
        )

    return read


def _is_failure_of(name: str) -> Callable[[BaseException], bool | None]:
    errors = DATABASE_ERRORS if name == DATABASE else REDIS_ERRORS

    def is_failure(exc: BaseException) -> bool | None:
        if isinstance(exc, DatabaseBusy):
            return None  # a wait for our own pool: PostgreSQL may be perfectly well
        # Anything else (a refused request, a missing row) says nothing about health.
        return isinstance(exc, errors)

    return is_failure


_UNREACHABLE = object()


def _through_redis_breaker(fn: Callable[[Any], T]) -> T:
    """Run a shared-store command on the default cache's Redis, under the Redis
    breaker: with Redis down the database breaker falls back to memory at once."""
    result = redis_call(fn, default=_UNREACHABLE)
    if result is _UNREACHABLE:
        raise StoreUnavailable("Redis unavailable or its circuit open")
    return result


def shared_store(prefix: str, *, name: str) -> FallbackStore:
    """The one place a breaker's state is shared: the default cache's Redis, reached
    through the Redis breaker, with this process's memory while Redis is away. Used
    by the database breaker and every provider's (analysis/providers/breakers.py)."""
    # No wait between Redis attempts: the Redis breaker already paces them.
    return FallbackStore(RedisStore(prefix, _through_redis_breaker), name=name)


def _store(name: str) -> MemoryStore | FallbackStore:
    if name == REDIS or not settings.DB_BREAKER_SHARED:
        return MemoryStore()  # the Redis breaker cannot keep its state in Redis
    return shared_store(
        f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:breaker:{name}", name=name
    )


_lock = threading.Lock()
_breakers: dict[str, Breaker] = {}


def _breaker(name: str) -> Breaker:
    breaker = _breakers.get(name)
    if breaker is None:
        with _lock:
            breaker = _breakers.get(name)
            if breaker is None:
                breaker = _breakers[name] = Breaker(
                    name, _store(name), _config_reader(name), _is_failure_of(name)
                )
    return breaker


@receiver(setting_changed)
def _settings_changed(setting: str, **kwargs: Any) -> None:
    # Limits are read on every call; only where the state lives needs a rebuild.
    if setting in ("DB_BREAKER_SHARED", "CACHES"):
        with _lock:
            _breakers.clear()


# ------------------------------------------------------------------------ Redis
_last_redis_warning = 0.0


def redis_call(fn: Callable[[Any], T], default: Any = None) -> T | Any:
    """``fn(client)`` with the raw Redis client of the default cache, under the
    Redis breaker. Redis down or breaker open: ``default``, logged at most every 10 s."""
    global _last_redis_warning
    from django_redis import get_redis_connection

    try:
        return _breaker(REDIS).call(lambda: fn(get_redis_connection("default")))
    except BreakerOpen:
        return default
    except REDIS_ERRORS as exc:
        now = time.monotonic()
        if now - _last_redis_warning > 10:
            _last_redis_warning = now
            logger.warning("redis unavailable, carrying on without it: %s", type(exc).__name__)
        return default


def redis_available() -> bool:
    return redis_call(lambda client: client.ping(), default=False) is True


# --------------------------------------------------------------------- database
def call_database(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run database work under the database breaker. A refusal or a connection
    failure raises ``DependencyUnavailable``, a busy pool ``DatabaseBusy``; other
    errors pass through."""
    try:
        return _breaker(DATABASE).call(_busy_or_failed, fn, *args, **kwargs)
    except BreakerOpen as refused:
        raise database_unavailable(refused.retry_after) from None
    except DATABASE_ERRORS as exc:
        logger.warning("database unavailable: %s", type(exc).__name__)
        raise database_unavailable() from exc


def _busy_or_failed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    # Inside the breaker's call, so the breaker sees DatabaseBusy (no verdict)
    # instead of the pool's OperationalError (a failure); decided once per error.
    try:
        return fn(*args, **kwargs)
    except DATABASE_ERRORS as exc:
        if pool_exhausted(exc):
            raise DatabaseBusy() from exc
        raise


def database_error(exc: BaseException) -> DependencyUnavailable:
    """The 503 for a database error raised outside ``call_database`` (the API's
    exception handler): busy when it was a wait for a busy pool."""
    return DatabaseBusy() if pool_exhausted(exc) else database_unavailable()


def database_unavailable(retry_after: float | None = None) -> DependencyUnavailable:
    """The 503 error; ``retry_after`` defaults to what the breaker says now."""
    return DependencyUnavailable(
        DATABASE,
        "The database is unavailable; nothing was changed. Try again shortly.",
        retry_after=(
            retry_after_seconds(DATABASE) if retry_after is None else max(1, math.ceil(retry_after))
        ),
    )


def database_breaker_open() -> bool:
    """True while the database breaker is open (its reset timeout not over)."""
    return _breaker(DATABASE).state == OPEN


def retry_after_seconds(name: str) -> int:
    """Seconds until the breaker lets a trial call through (its reset timeout when
    it is not open)."""
    snapshot = _breaker(name).snapshot()
    if snapshot.state == OPEN:
        return max(1, math.ceil(snapshot.retry_after))
    return max(1, math.ceil(_config_reader(name)().reset_timeout))


# ---------------------------------------------------------- pool exhaustion
def _pool_timeout_in(exc: BaseException) -> bool:
    """Django wraps psycopg_pool's ``PoolTimeout`` in its own ``OperationalError``."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, PoolTimeout):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _trouble(stats: dict[str, int]) -> int:
    """psycopg_pool's count of failed connection attempts and of connections found or
    returned broken."""
    return sum(
        stats.get(name, 0) for name in ("connections_errors", "connections_lost", "returns_bad")
    )


# For each pool: its trouble count when it last handed out a connection.
_trouble_at_handout: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@receiver(connection_created)
def _pool_handed_out(sender: Any, connection: Any, **kwargs: Any) -> None:
    # A pooled connection that passed the pool's check: the pool reaches PostgreSQL
    # now. Noted once per request (a few microseconds), so a later wait that times
    # out can tell whether anything failed since.
    pool = connection.pool
    if pool is not None:
        _trouble_at_handout[pool] = _trouble(pool.get_stats())


def pool_exhausted(exc: BaseException) -> bool:
    """True when ``exc`` is a wait for a pooled connection (``PoolTimeout``) that ran
    out while the pool was sound: no connection attempt failed and no connection was
    found broken since it last handed one out, so every connection was busy with
    other requests. False for anything else, and for a timeout after the pool's
    connections failed (PostgreSQL down: an outage, which the breaker counts)."""
    if not _pool_timeout_in(exc):
        return False
    pool = connections[DEFAULT_DB_ALIAS].pool
    if pool is None:
        return True
    stats = pool.get_stats()
    baseline = _trouble_at_handout.get(pool)
    if baseline is None:
        # It never handed out a connection in this process: sound only if it never
        # failed either (a pool that fails from the start is PostgreSQL down).
        return _trouble(stats) == 0
    return _trouble(stats) <= baseline


# ------------------------------------------------------------------ inspection
def breaker_states() -> dict[str, str]:
    """``{"database": "closed", "redis": "open"}`` for health and metrics."""
    return {name: _breaker(name).state for name in (DATABASE, REDIS)}


def reset_breakers() -> None:
    """Close both breakers, shared state included (tests, and an operator after a
    repair)."""
    # Redis first: the database breaker's shared state is reached through it.
    for name in (REDIS, DATABASE):
        _breaker(name).reset()
    with _lock:
        _breakers.clear()
