"""Per-token rate limits, counted in Redis in fixed windows (one round trip: INCR +
EXPIRE in a pipeline). Two scopes, each with a rate from the environment:
``read`` (status, history, contact sheet) and ``write`` (submit, retry, cancel,
delete). Over the limit: 429 with Retry-After (seconds to the next window).

With Redis down the limit is not enforced (fail open): refusing every caller
because the counter store is away would turn a cache outage into an API outage.
"""

from __future__ import annotations

import re
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import BaseThrottle

from analysis import cache
from media_analysis.resilience import redis_call

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"600/min"`` -> (600, 60); ``"10/5s"`` -> (10, 5)."""
    match = _RATE.match(rate or "")
    if not match or int(match[1]) < 1:
        raise ImproperlyConfigured(f"Invalid throttle rate {rate!r}: use e.g. 600/min, 20/s, 10/5s")
    period = _UNIT_SECONDS[match[3][0]] * (int(match[2]) if match[2] else 1)
    return int(match[1]), period


def throttle_key(scope: str, who: str, period: int, now: float) -> str:
    return cache.key("throttle", scope, who, int(now // period))


def caller_of(request) -> str:
    """Per token: its digest's first characters (known before the token is checked,
    so the status poll can count in the same round trip as its lookups)."""
    digest = getattr(request.auth, "digest", None)
    return f"token:{digest[:24]}" if digest else f"user:{request.user.pk}"


class TokenRateThrottle(BaseThrottle):
    def __init__(self, scope: str = "read"):
        self.scope = scope
        self._wait: float | None = None

    def allow_request(self, request, view) -> bool:
        limit, period = parse_rate(settings.API_THROTTLE_RATES[self.scope])
        now = time.time()
        counter_key = throttle_key(self.scope, caller_of(request), period, now)
        prefetched = getattr(request._request, "api_prefetch", None)
        if prefetched is not None and prefetched.throttle_key == counter_key:
            used = prefetched.throttle_count
        else:

            def count(client) -> int:
                pipe = client.pipeline(transaction=False)
                pipe.incr(counter_key)
                pipe.expire(counter_key, period + 1)
                return pipe.execute()[0]

            used = redis_call(count, default=None)
        if used is None or used <= limit:
            return True
        self._wait = (int(now // period) + 1) * period - now
        return False

    def wait(self) -> float | None:
        return self._wait
