"""One circuit breaker per provider (pybreaker), shared between processes via Redis.

A breaker opens after ``PROVIDER_BREAKER_FAIL_MAX`` consecutive failures, lets a
trial call through after ``PROVIDER_BREAKER_RESET_TIMEOUT`` seconds (half-open) and
closes after ``PROVIDER_BREAKER_SUCCESS_THRESHOLD`` successes. While open, calls
fail at once, without an HTTP request.

Its state lives in Redis (``pybreaker.CircuitRedisStorage``) so every gunicorn
worker and Celery process sees the same circuit. That storage's constructor talks
to Redis and raises when Redis is down, so it is built lazily, on first use;
when Redis cannot be reached the breaker keeps its state in memory (per process)
and Redis is tried again after ``REDIS_RETRY_SECONDS``. Each provider has its own
key namespace. The Redis client must return bytes (no ``decode_responses``):
pybreaker decodes them itself.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import pybreaker
import redis
from django.conf import settings

from analysis.providers.base import ProviderError

logger = logging.getLogger(__name__)

REDIS_RETRY_SECONDS = 60.0
REDIS_CONNECT_TIMEOUT_SECONDS = 2.0


def _is_provider_fault(exc: BaseException) -> bool:
    """Only faults of the provider count against its circuit: a bad request or a
    wrong key says nothing about the provider's health."""
    return not (isinstance(exc, ProviderError) and not exc.retryable)


def _excluded(exc: BaseException) -> bool:
    return not _is_provider_fault(exc)


@dataclass
class _Entry:
    storage: pybreaker.CircuitBreakerStorage
    shared: bool  # state in Redis (True) or in this process's memory (False)
    built_at: float


_lock = threading.Lock()
_storages: dict[str, _Entry] = {}


def _namespace(provider: str) -> str:
    return f"{settings.PROVIDER_BREAKER_NAMESPACE}:{provider}"


def _redis_storage(provider: str) -> pybreaker.CircuitRedisStorage | None:
    if not settings.PROVIDER_BREAKER_REDIS:
        return None
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=REDIS_CONNECT_TIMEOUT_SECONDS,
            socket_timeout=REDIS_CONNECT_TIMEOUT_SECONDS,
        )
        return pybreaker.CircuitRedisStorage(
            pybreaker.STATE_CLOSED, client, namespace=_namespace(provider)
        )
    except (redis.RedisError, OSError) as exc:
        logger.warning(
            "circuit breaker for %s keeps its state in memory: Redis unreachable (%s)",
            provider,
            type(exc).__name__,
        )
        return None


def _entry(provider: str) -> _Entry:
    with _lock:
        entry = _storages.get(provider)
        retry_redis = (
            entry is not None
            and not entry.shared
            and settings.PROVIDER_BREAKER_REDIS
            and time.monotonic() - entry.built_at >= REDIS_RETRY_SECONDS
        )
        if entry is None or retry_redis:
            storage = _redis_storage(provider)
            now = time.monotonic()
            if storage is not None:
                entry = _Entry(storage, shared=True, built_at=now)
            elif entry is None:
                memory = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
                entry = _Entry(memory, shared=False, built_at=now)
            else:
                # Redis still down: keep the in-memory state gathered so far.
                entry.built_at = now
            _storages[provider] = entry
        return entry


def breaker_for(provider: str) -> pybreaker.CircuitBreaker:
    """A circuit breaker for one call to ``provider``.

    The state lives in the provider's storage, shared by every breaker built
    here; the breaker object itself is made per call because pybreaker holds a
    lock for the whole guarded call, which would queue concurrent calls in a
    threaded worker behind one slow provider response.
    """
    return pybreaker.CircuitBreaker(
        fail_max=settings.PROVIDER_BREAKER_FAIL_MAX,
        reset_timeout=settings.PROVIDER_BREAKER_RESET_TIMEOUT,
        success_threshold=settings.PROVIDER_BREAKER_SUCCESS_THRESHOLD,
        exclude=[_excluded],
        state_storage=_entry(provider).storage,
        name=f"provider:{provider}",
        # On the tripping failure, re-raise the provider's own error (more useful
        # than "circuit opened"); later calls get CircuitBreakerError.
        throw_new_error_on_trip=False,
    )


def breaker_is_shared(provider: str) -> bool:
    """True when the breaker state of ``provider`` lives in Redis."""
    return _entry(provider).shared


def breaker_state(provider: str) -> str:
    """ "closed", "open" or "half-open": for health pages and metrics."""
    return _entry(provider).storage.state


def reset_breakers() -> None:
    """Forget this process's breaker storages (the next call rebuilds them from
    settings). Shared state in Redis is left alone; close a shared circuit with
    ``breaker_for(name).close()``."""
    with _lock:
        _storages.clear()
