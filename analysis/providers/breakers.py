"""One circuit breaker per provider (:mod:`media_analysis.breaker`), shared between
processes via Redis.

A breaker opens after ``PROVIDER_BREAKER_FAIL_MAX`` consecutive failures, goes
half-open after ``PROVIDER_BREAKER_RESET_TIMEOUT`` seconds, lets at most
``BREAKER_HALF_OPEN_MAX_TRIALS`` trial calls run at a time across every process,
and closes after ``PROVIDER_BREAKER_SUCCESS_THRESHOLD`` successful trials. While
it refuses, calls fail at once, without an HTTP request. On the tripping failure
the caller gets the provider's own error; later calls get ``BreakerOpen``.

The state is shared the way the database breaker's is
(``media_analysis.resilience.shared_store``): in the default cache's Redis, keys
under ``PROVIDER_BREAKER_NAMESPACE:<provider>``, reached through the Redis
breaker, so every gunicorn worker and Celery process sees the same circuit. When
Redis cannot be reached the breaker carries on in memory (per process) from the
last state it saw.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from analysis.providers.base import ProviderError
from media_analysis.breaker import (
    Breaker,
    BreakerConfig,
    FallbackStore,
    MemoryStore,
)
from media_analysis.resilience import shared_store


def _is_provider_fault(exc: BaseException) -> bool:
    """Only faults of the provider count against its circuit: a bad request or a
    wrong key says nothing about the provider's health."""
    return not (isinstance(exc, ProviderError) and not exc.retryable)


def _config() -> BreakerConfig:
    # A trial may legitimately take a whole provider timeout; a permit expiring
    # earlier would let more trials in while the first ones are still running.
    longest_call = settings.PROVIDER_TIMEOUT + settings.PROVIDER_CONNECT_TIMEOUT
    return BreakerConfig(
        fail_max=settings.PROVIDER_BREAKER_FAIL_MAX,
        reset_timeout=settings.PROVIDER_BREAKER_RESET_TIMEOUT,
        success_threshold=settings.PROVIDER_BREAKER_SUCCESS_THRESHOLD,
        max_trials=settings.BREAKER_HALF_OPEN_MAX_TRIALS,
        permit_seconds=max(settings.BREAKER_TRIAL_PERMIT_SECONDS, longest_call),
    )


def _store(provider: str) -> MemoryStore | FallbackStore:
    if not settings.PROVIDER_BREAKER_REDIS:
        return MemoryStore()
    return shared_store(
        f"{settings.PROVIDER_BREAKER_NAMESPACE}:{provider}", name=f"provider:{provider}"
    )


_lock = threading.Lock()
_breakers: dict[str, Breaker] = {}


def breaker_for(provider: str) -> Breaker:
    """The circuit breaker of ``provider`` (one object per process, for every thread:
    it holds no lock while the call runs)."""
    with _lock:
        breaker = _breakers.get(provider)
        if breaker is None:
            breaker = _breakers[provider] = Breaker(
                f"provider:{provider}", _store(provider), _config, _is_provider_fault
            )
        return breaker


def breaker_is_shared(provider: str) -> bool:
    """True when the breaker state of ``provider`` lives in Redis (asks Redis when
    it is due, so the answer is current)."""
    breaker = breaker_for(provider)
    breaker.snapshot()
    return breaker.store.shared


def breaker_state(provider: str) -> str:
    """ "closed", "open" or "half-open": for health pages and metrics."""
    return breaker_for(provider).state


def reset_breakers() -> None:
    """Forget this process's breakers (the next call rebuilds them from settings).
    Shared state in Redis is left alone; close a shared circuit with
    ``breaker_for(name).reset()``."""
    with _lock:
        _breakers.clear()


@receiver(setting_changed)
def _settings_changed(setting: str, **kwargs: Any) -> None:
    # Limits are read on every call; where the state lives is fixed per breaker.
    if setting in ("CACHES", "PROVIDER_BREAKER_REDIS", "PROVIDER_BREAKER_NAMESPACE"):
        reset_breakers()
