"""Circuit breakers for the two dependencies every request touches: PostgreSQL and Redis.

Both follow the same rule (pybreaker): open after ``*_BREAKER_FAIL_MAX`` consecutive
failures, let a trial call through after ``*_BREAKER_RESET_TIMEOUT`` seconds
(half-open), close after ``*_BREAKER_SUCCESS_THRESHOLD`` good calls. While a breaker
is open, calls fail at once: no connection attempt, no socket timeout per request.

- The **Redis** breaker keeps its state in this process's memory (keeping it in
  Redis would need the very thing that is down). Redis calls go through
  ``redis_call(fn, default)``, which answers ``default`` when Redis fails: callers
  carry on from PostgreSQL.
- The **database** breaker keeps its state in Redis while Redis is up, so every
  gunicorn worker opens together after five failures in total; when Redis is down it
  falls back to memory. Database work goes through ``call_database(fn)``, which raises
  ``DependencyUnavailable`` (HTTP 503 + Retry-After) when the breaker is open or
  PostgreSQL fails.

Each thread has its own breaker objects around the shared state storage: pybreaker
holds a lock for the whole guarded call, and one breaker object shared by a threaded
worker would queue every request behind one slow query.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pybreaker
from django.conf import settings
from django.core.signals import setting_changed
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver

logger = logging.getLogger(__name__)

T = TypeVar("T")

DATABASE = "database"
REDIS = "redis"
# Numeric values of the breaker-state gauge.
STATE_VALUES = {pybreaker.STATE_CLOSED: 0, pybreaker.STATE_HALF_OPEN: 1, pybreaker.STATE_OPEN: 2}

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


class DependencyUnavailable(Exception):
    """PostgreSQL (or another dependency) cannot be used now: answer 503 with
    ``Retry-After`` and try again later. Nothing was written."""

    status_code = 503

    def __init__(self, dependency: str, message: str, *, retry_after: int):
        super().__init__(message)
        self.dependency = dependency
        self.message = message
        self.retry_after = retry_after
        self.code = f"{dependency}_unavailable"

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "retry_after": self.retry_after}


# ---------------------------------------------------------------- state storage
class _StateChangeLog(pybreaker.CircuitBreakerListener):
    def state_change(self, cb, old_state, new_state) -> None:
        log = logger.warning if new_state.name != pybreaker.STATE_CLOSED else logger.info
        log(
            "circuit breaker %s: %s -> %s",
            cb.name,
            getattr(old_state, "name", None),
            new_state.name,
            extra={"breaker": cb.name, "breaker_state": new_state.name},
        )


_LISTENERS = [_StateChangeLog()]


class SharedStateStorage(pybreaker.CircuitBreakerStorage):
    """Breaker state in Redis while Redis answers (through the Redis breaker), else in
    this process. Every write goes to both, so a Redis outage keeps what was known."""

    def __init__(self, name: str):
        super().__init__(name)
        self._local = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self._prefix = f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:breaker:{name}"

    def _key(self, field: str) -> str:
        return f"{self._prefix}:{field}"

    def _get(self, field: str) -> object:
        return redis_call(lambda client: client.get(self._key(field)), default=_UNREACHABLE)

    @property
    def state(self) -> str:
        value = self._get("state")
        if value is _UNREACHABLE:
            return self._local.state
        return value.decode() if value else pybreaker.STATE_CLOSED

    @state.setter
    def state(self, state: str) -> None:
        self._local.state = state
        redis_call(lambda client: client.set(self._key("state"), state))

    def increment_counter(self) -> None:
        self._local.increment_counter()
        redis_call(lambda client: client.incr(self._key("fail")))

    def reset_counter(self) -> None:
        self._local.reset_counter()
        redis_call(lambda client: client.set(self._key("fail"), 0))

    def increment_success_counter(self) -> None:
        self._local.increment_success_counter()
        redis_call(lambda client: client.incr(self._key("success")))

    def reset_success_counter(self) -> None:
        self._local.reset_success_counter()
        redis_call(lambda client: client.set(self._key("success"), 0))

    @property
    def counter(self) -> int:
        value = self._get("fail")
        return self._local.counter if value is _UNREACHABLE else int(value or 0)

    @property
    def success_counter(self) -> int:
        value = self._get("success")
        return self._local.success_counter if value is _UNREACHABLE else int(value or 0)

    @property
    def opened_at(self) -> datetime | None:
        value = self._get("opened_at")
        if value is _UNREACHABLE:
            return self._local.opened_at
        return datetime.fromtimestamp(float(value), tz=UTC) if value else None

    @opened_at.setter
    def opened_at(self, when: datetime) -> None:
        self._local.opened_at = when
        redis_call(lambda client: client.set(self._key("opened_at"), when.timestamp()))


_UNREACHABLE = object()
_lock = threading.Lock()
_storages: dict[str, pybreaker.CircuitBreakerStorage] = {}


def _storage(name: str) -> pybreaker.CircuitBreakerStorage:
    storage = _storages.get(name)
    if storage is None:
        with _lock:
            storage = _storages.get(name)
            if storage is None:
                if name == REDIS or not settings.DB_BREAKER_SHARED:
                    storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
                else:
                    storage = SharedStateStorage(name)
                _storages[name] = storage
    return storage


_per_thread = threading.local()
_BREAKER_SETTINGS = {
    DATABASE: ("DB_BREAKER_FAIL_MAX", "DB_BREAKER_RESET_TIMEOUT", "DB_BREAKER_SUCCESS_THRESHOLD"),
    REDIS: (
        "REDIS_BREAKER_FAIL_MAX",
        "REDIS_BREAKER_RESET_TIMEOUT",
        "REDIS_BREAKER_SUCCESS_THRESHOLD",
    ),
}
_generation = [0]  # bumped when settings change (tests), so breakers are rebuilt


def _breaker(name: str) -> pybreaker.CircuitBreaker:
    """This thread's breaker object for ``name``, built once per thread (the state
    itself is in the shared storage)."""
    cached = getattr(_per_thread, "breakers", None)
    if cached is None or cached[0] != _generation[0]:
        cached = _per_thread.breakers = (_generation[0], {})
    breaker = cached[1].get(name)
    if breaker is None:
        fail_max, reset_timeout, success_threshold = (
            getattr(settings, setting) for setting in _BREAKER_SETTINGS[name]
        )
        breaker = cached[1][name] = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            success_threshold=success_threshold,
            exclude=[_not_a_fault_of(name)],
            state_storage=_storage(name),
            listeners=_LISTENERS,
            name=name,
        )
    return breaker


@receiver(setting_changed)
def _settings_changed(setting: str, **kwargs: Any) -> None:
    if "BREAKER" in setting or setting == "CACHES":
        _generation[0] += 1


def _not_a_fault_of(name: str) -> Callable[[BaseException], bool]:
    errors = DATABASE_ERRORS if name == DATABASE else REDIS_ERRORS
    # Anything else (a refused request, a missing row) says nothing about health.
    return lambda exc: not isinstance(exc, errors)


# ------------------------------------------------------------------------ Redis
_last_redis_warning = 0.0


def redis_call(fn: Callable[[Any], T], default: Any = None) -> T | Any:
    """``fn(client)`` with the raw Redis client of the default cache, under the
    Redis breaker. Redis down or breaker open: ``default``, logged at most every 10 s."""
    global _last_redis_warning
    from django_redis import get_redis_connection

    try:
        return _breaker(REDIS).call(lambda: fn(get_redis_connection("default")))
    except pybreaker.CircuitBreakerError:
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
    """Run database work under the database breaker. An open breaker or a
    connection failure raises ``DependencyUnavailable``; other errors pass through."""
    try:
        return _breaker(DATABASE).call(fn, *args, **kwargs)
    except pybreaker.CircuitBreakerError:
        raise database_unavailable() from None
    except DATABASE_ERRORS as exc:
        logger.warning("database unavailable: %s", type(exc).__name__)
        raise database_unavailable() from exc


def database_unavailable() -> DependencyUnavailable:
    return DependencyUnavailable(
        DATABASE,
        "The database is unavailable; nothing was changed. Try again shortly.",
        retry_after=retry_after_seconds(DATABASE),
    )


def database_breaker_open() -> bool:
    """True while the database breaker refuses calls (open, reset timeout not over)."""
    storage = _storage(DATABASE)
    if storage.state != pybreaker.STATE_OPEN:
        return False
    opened = storage.opened_at
    return (
        opened is not None
        and (datetime.now(UTC) - opened).total_seconds() < settings.DB_BREAKER_RESET_TIMEOUT
    )


def retry_after_seconds(name: str) -> int:
    """Seconds until the breaker lets a trial call through (its reset timeout when
    it is not open yet)."""
    reset = (
        settings.DB_BREAKER_RESET_TIMEOUT
        if name == DATABASE
        else settings.REDIS_BREAKER_RESET_TIMEOUT
    )
    storage = _storage(name)
    opened = storage.opened_at if storage.state == pybreaker.STATE_OPEN else None
    if opened is None:
        return max(1, math.ceil(reset))
    remaining = reset - (datetime.now(UTC) - opened).total_seconds()
    return max(1, math.ceil(remaining))


# ------------------------------------------------------------------ inspection
def breaker_states() -> dict[str, str]:
    """``{"database": "closed", "redis": "open"}`` for health and metrics."""
    return {name: _storage(name).state for name in (DATABASE, REDIS)}


def reset_breakers() -> None:
    """Close both breakers (tests, and an operator after a repair)."""
    for name in (DATABASE, REDIS):
        storage = _storage(name)
        storage.state = pybreaker.STATE_CLOSED
        storage.reset_counter()
        storage.reset_success_counter()
    with _lock:
        _storages.clear()
        _generation[0] += 1
