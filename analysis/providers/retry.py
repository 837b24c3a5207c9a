"""Retries with exponential backoff and jitter, behind the provider's circuit breaker.

Retried inside one call: 429 (rate limited), 5xx (provider unavailable) and
connection errors. A ``Retry-After`` from the provider is honoured up to
``PROVIDER_RETRY_MAX_DELAY``; a longer one ends the call with a retryable
``provider_rate_limited`` carrying the hint, so the task can come back later
instead of holding a worker. Read timeouts are not retried here (the call has
already waited the full timeout); other 4xx never are.

Every attempt goes through the breaker, so a provider that keeps failing trips
its circuit mid-retry and the remaining attempts fail fast.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

from django.conf import settings

from analysis.providers.base import (
    PROVIDER_CIRCUIT_OPEN,
    PROVIDER_CONNECTION_ERROR,
    PROVIDER_RATE_LIMITED,
    PROVIDER_UNAVAILABLE,
    ProviderError,
)
from analysis.providers.breakers import breaker_for
from media_analysis.breaker import BreakerOpen

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRIED_IN_CALL = frozenset(
    {PROVIDER_RATE_LIMITED, PROVIDER_UNAVAILABLE, PROVIDER_CONNECTION_ERROR}
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait. ``sleep`` and ``jitter`` are injectable so
    tests can observe the waits without spending them."""

    max_retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    @classmethod
    def from_settings(cls, **overrides) -> RetryPolicy:
        values = {
            "max_retries": settings.PROVIDER_MAX_RETRIES,
            "base_delay": settings.PROVIDER_RETRY_BASE_DELAY,
            "max_delay": settings.PROVIDER_RETRY_MAX_DELAY,
        }
        values.update(overrides)
        return cls(**values)

    def backoff(self, retry_number: int) -> float:
        """Delay before retry ``retry_number`` (1-based): exponential, capped, with
        "equal jitter" (half fixed, half random) so retries never bunch up at 0."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry_number - 1))
        return ceiling / 2 + self.jitter() * ceiling / 2


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)


@dataclass(frozen=True)
class Attempted(Generic[T]):
    value: T
    attempts: int


def call_with_retries(
    provider: str, attempt: Callable[[], T], policy: RetryPolicy | None = None
) -> Attempted[T]:
    """Run ``attempt`` (one HTTP call raising :class:`ProviderError`) with retries,
    each through ``provider``'s circuit breaker."""
    policy = policy or RetryPolicy.from_settings()
    attempts = 0
    while True:
        attempts += 1
        try:
            value = breaker_for(provider).call(attempt)
            return Attempted(value, attempts)
        except BreakerOpen:
            raise ProviderError(
                PROVIDER_CIRCUIT_OPEN,
                f"{provider} failed repeatedly; its circuit is open and calls are "
                "refused until it recovers",
                retryable=True,
                provider=provider,
            ) from None
        except ProviderError as exc:
            exc.provider = exc.provider or provider
            if exc.code not in RETRIED_IN_CALL or attempts > policy.max_retries:
                raise
            if exc.retry_after is not None and exc.retry_after > policy.max_delay:
                raise
            delay = exc.retry_after if exc.retry_after is not None else policy.backoff(attempts)
            logger.warning(
                "%s attempt %d failed (%s); retrying in %.2fs",
                provider,
                attempts,
                exc.code,
                delay,
            )
            policy.sleep(delay)
