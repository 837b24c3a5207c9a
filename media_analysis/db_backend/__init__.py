"""Our PostgreSQL backend (``ENGINE = "media_analysis.db_backend"``): django-prometheus's,
plus the plan's retry policy for *establishing* a connection (never for a query).

Workers, beat and management commands try ``1 + DB_CONNECT_RETRIES`` times, sleeping
``DB_CONNECT_RETRY_DELAY`` seconds, then that times ``DB_CONNECT_RETRY_BACKOFF`` for
each further wait (the defaults: 0.5 s, 1 s, 2 s, then the error is raised). The web
fails fast behind the circuit breaker instead: ``media_analysis/wsgi.py`` calls
``disable_connect_retries()`` before Django loads, so no request ever sleeps here.

This module only holds the policy; it imports nothing from ``django.db``, so the
WSGI entry point can switch it off before settings are read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

logger = logging.getLogger("media_analysis.db")

T = TypeVar("T")

_retries_disabled = False


def disable_connect_retries() -> None:
    """Turn connection retries off for the rest of this process (the web's entry
    point does this: a request waits for nobody, the breaker answers 503)."""
    global _retries_disabled
    _retries_disabled = True


def connect_retries_disabled() -> bool:
    return _retries_disabled


@dataclass(frozen=True)
class RetryPolicy:
    retries: int
    delay: float
    backoff: float

    def delays(self) -> list[float]:
        """The sleeps between attempts: ``[0.5, 1.0, 2.0]`` for the defaults."""
        return [self.delay * self.backoff**n for n in range(self.retries)]


def current_policy() -> RetryPolicy:
    """The settings' policy, or no retries in a process that turned them off."""
    from django.conf import settings

    if _retries_disabled:
        return RetryPolicy(0, 0.0, 1.0)
    return RetryPolicy(
        settings.DB_CONNECT_RETRIES,
        settings.DB_CONNECT_RETRY_DELAY,
        settings.DB_CONNECT_RETRY_BACKOFF,
    )


def with_retries(
    connect: Callable[[], T],
    policy: RetryPolicy,
    retry_on: tuple[type[BaseException], ...],
    secret: str = "",
) -> T:
    """``connect()``, tried again after each delay of ``policy`` when it raises one of
    ``retry_on``; the last failure is raised. ``secret`` (the password) is blanked
    out of the logged reason, should a driver ever echo it."""
    delays = policy.delays()
    for attempt, delay in enumerate(delays, start=1):
        try:
            return connect()
        except retry_on as exc:
            logger.warning(
                "database connection attempt %d of %d failed (%s); retrying in %.1f s",
                attempt,
                len(delays) + 1,
                _reason(exc, secret),
                delay,
                extra={"attempt": attempt, "retry_delay": delay},
            )
        time.sleep(delay)
    return connect()


def _reason(exc: BaseException, secret: str) -> str:
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}"[:200]
    return text.replace(secret, "***") if secret else text
