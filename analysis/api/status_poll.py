"""The status poll, the API's hot path: ``GET /api/media/status/<id>``.

Clients poll a request's status once a second until it ends, so one poll must cost
little. Two pieces:

- ``prefetch_for``: the token lookup, the caller's throttle counter and the cached
  status come from Redis in one round trip (``cache.prefetch_status_poll``), once
  per request; the full view's authentication and throttle then use what it
  fetched.
- ``StatusPollMiddleware``: when that round trip says everything the full view
  would check is fine (a fresh cached token lookup that has not expired, the
  caller under its read limit, the status cached and the caller allowed to see
  it), it answers at once with the cached bytes, skipping the session, CSRF,
  auth and messages middleware, URL resolution and DRF. Its answer is the full
  view's, byte for byte and header for header (the headers the skipped
  middleware would add are added by those middleware's own code):
  ``tests/api/test_status_fast_path.py`` compares the two.

Everything else goes down the full path, with the round trip's result attached so
nothing is counted twice: a cache miss, a token not cached or due for its
recheck, an expired token, a throttled caller (429), someone else's request
(404), a malformed id or header, an ``Accept`` the view would refuse, Redis away.
The middleware sits after the request context and security middleware, so the
ids, the security headers, the HTTPS redirect and the JSON log fields are as for
any request.

``status_poll_wsgi`` answers the same polls before Django's handler (gunicorn and
runserver load it through ``media_analysis.wsgi``) with this middleware's own
checks and hooks; this middleware then answers what goes through Django alone (the
test client) and what the WSGI path leaves to it.

Metrics: django-prometheus's outer middleware counts and times a fast-path answer
like any request (``django_http_requests_before_middlewares_total``,
``..._responses_before_middlewares_total``,
``..._requests_latency_including_middlewares_seconds``), and the status cache
counts its hit (``media_analysis_cache_lookups_total``). Its inner, per-view
families (by method, status, view, body size: ``PrometheusAfterMiddleware``, last
in MIDDLEWARE) count the requests that reach a view, so cached polls are not in
them. Recording those too costs 12 shared-memory writes per poll in multiprocess
mode, about a tenth of the poll's throughput (measured).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse
from django.middleware.common import CommonMiddleware
from django.urls import Resolver404, ResolverMatch, resolve
from django.utils.module_loading import import_string

from analysis import cache
from analysis.api.authentication import presented_digest
from analysis.api.throttling import parse_rate, throttle_key

STATUS_PREFIX = "/api/media/status/"
# What DRF's view says it allows (GET, with HEAD and OPTIONS it adds).
ALLOW = "GET, HEAD, OPTIONS"
DATA_SOURCE_HEADER = "X-Data-Source"
READ_SCOPE = "read"
MAX_ACCEPT_LENGTH = 1000
STATUS_ROUTE = "media-status"
# Where the WSGI fast path (status_poll_wsgi) hands its round trip's result to the
# full path when it does not answer itself: not a header name, so no client sets it.
PREFETCH_ENVIRON_KEY = "media_analysis.status_poll_prefetch"
# Middleware after this one whose process_response would change a cached status
# answer; the fast path runs those hooks, innermost first as Django would. The others
# (session, CSRF, auth, messages) leave it untouched; django-prometheus's inner
# per-view counts are left out (see above).
_RESPONSE_HOOKS = {
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
}


def prefetch_for(request: HttpRequest, raw_id: str | None) -> cache.PollPrefetch | None:
    """What one poll needs from Redis, fetched once per request (None: nothing was
    fetched: a malformed id or token, or Redis away)."""
    if hasattr(request, "api_prefetch"):
        return request.api_prefetch
    if PREFETCH_ENVIRON_KEY in request.META:  # fetched by the WSGI fast path
        found = request.META[PREFETCH_ENVIRON_KEY]
        request.api_prefetch = found
        return found
    found = None
    digest = presented_digest(request)
    request_id = _parse_id(raw_id)
    if digest is not None and request_id is not None:
        _, period = read_rate()
        key = throttle_key(READ_SCOPE, f"token:{digest[:24]}", period, time.time())
        found = cache.prefetch_status_poll(request_id, digest, key, period)
    request.api_prefetch = found
    return found


def read_rate() -> tuple[int, int]:
    return _parsed_rate(settings.API_THROTTLE_RATES[READ_SCOPE])


@lru_cache(maxsize=8)
def _parsed_rate(rate: str) -> tuple[int, int]:
    return parse_rate(rate)


def _parse_id(raw_id: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw_id or "")
    except ValueError:
        return None


class StatusPollMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        mine = f"{__name__}.{type(self).__name__}"
        later = settings.MIDDLEWARE[settings.MIDDLEWARE.index(mine) + 1 :]
        self._response_hooks = [
            import_string(path)(get_response).process_response
            for path in reversed(later)
            if path in _RESPONSE_HOOKS
        ]
        # CommonMiddleware's request checks decide whether to answer at all.
        self._common = CommonMiddleware(get_response)
        self._routes: dict[str, ResolverMatch | None] = {}
        # CommonMiddleware's verdict by what it reads of a request (see _common_allows).
        self._verdicts: dict[tuple, bool] = {}
        setting_changed.connect(self._forget_verdicts, weak=True)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "GET" and request.path_info.startswith(STATUS_PREFIX):
            response = self.from_cache(request)
            if response is not None:
                return response
        return self.get_response(request)

    def from_cache(self, request: HttpRequest) -> HttpResponse | None:
        """The answer from the cache with the hooks of the middleware after this one
        applied, or None: the full path answers (``request.api_prefetch`` holds the
        round trip's result if one was made)."""
        body = self.cached_body(request)
        return None if body is None else self.respond(request, body)

    def cached_body(self, request: HttpRequest) -> bytes | None:
        """The cached status body when the fast path may answer with it, else None."""
        route = self._route()
        if route is None or not _renders_json(request.META.get("HTTP_ACCEPT")):
            return None
        if not self._common_allows(request):
            return None
        found = prefetch_for(request, request.path_info[len(STATUS_PREFIX) :])
        if found is None or not found.status.hit or not _may_read(found):
            return None
        return found.status.body

    def respond(self, request: HttpRequest, body: bytes) -> HttpResponse:
        """The view's answer with this body: its headers, and the hooks of the
        middleware after this one applied."""
        response = HttpResponse(body, content_type="application/json")
        response[DATA_SOURCE_HEADER] = "cache"
        response["Allow"] = ALLOW
        for hook in self._response_hooks:
            response = hook(request, response)
        return response

    def _route(self) -> ResolverMatch | None:
        """How the URLconf resolves a status path, if to the status view: the fast
        path answers only for paths the full path would give to that view."""
        urlconf = settings.ROOT_URLCONF
        if urlconf not in self._routes:
            try:
                match = resolve(f"{STATUS_PREFIX}{uuid.UUID(int=0)}", urlconf)
            except Resolver404:
                match = None
            self._routes[urlconf] = match if match and match.url_name == STATUS_ROUTE else None
        return self._routes[urlconf]

    def _common_allows(self, request: HttpRequest) -> bool:
        """CommonMiddleware's checks (host, user agent, www) pass without an answer
        of their own; if not, the full path gives that answer.

        The verdict depends only on the settings and on the request values in
        ``_verdict_key`` (what ``get_host()``, ``is_secure()`` and the user-agent
        check read), so it is remembered by them: validating the host was a tenth
        of the poll's own CPU, and a poller sends the same ones every second. Kept
        for at most ``MAX_VERDICTS`` combinations, forgotten when settings change."""
        key = _verdict_key(request.META)
        verdict = self._verdicts.get(key)
        if verdict is None:
            try:
                verdict = self._common.process_request(request) is None
            except Exception:  # DisallowedHost, PermissionDenied: raised again on the full path
                verdict = False
            if len(self._verdicts) >= MAX_VERDICTS:
                self._verdicts.clear()
            self._verdicts[key] = verdict
        return verdict

    def _forget_verdicts(self, **kwargs: Any) -> None:
        self._verdicts = {}


# What CommonMiddleware.process_request reads of a request: the user agent, and
# what HttpRequest.get_host() reads (the host headers, the server's name and port,
# the forwarded port, and for the port's default the scheme: wsgi.url_scheme or the
# SECURE_PROXY_SSL_HEADER's header).
_VERDICT_META = (
    "HTTP_HOST",
    "HTTP_X_FORWARDED_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_USER_AGENT",
    "wsgi.url_scheme",
)
MAX_VERDICTS = 1024


def _verdict_key(meta: dict[str, Any]) -> tuple:
    proxy_header = settings.SECURE_PROXY_SSL_HEADER
    proxy_value = meta.get(proxy_header[0]) if proxy_header else None
    return (*(meta.get(name) for name in _VERDICT_META), proxy_value)


def _may_read(found: cache.PollPrefetch) -> bool:
    """What the full view would check, all passing: the cached token lookup is
    fresh and unexpired, the caller is under its read limit, and may see the request."""
    token: dict[str, Any] | None = found.token
    if token is None:
        return False
    now = time.time()
    if now - token["checked_at"] >= settings.API_TOKEN_CACHE_SECONDS:
        return False
    expires_at = token.get("expires_at")
    if expires_at is not None and expires_at <= now:
        return False
    limit, _ = read_rate()
    if found.throttle_count > limit:
        return False
    owner_id = found.status.owner_id
    return bool(token["is_staff"]) or (owner_id is not None and owner_id == token["user_id"])


def _renders_json(accept: str | None) -> bool:
    """DRF's content negotiation would pick the JSON renderer (the view's only one)
    for this Accept header: absent, or naming application/json, application/* or */*
    (an empty or very long header: the full path decides)."""
    if accept is None:
        return True
    if len(accept) > MAX_ACCEPT_LENGTH:
        return False
    for item in accept.split(","):
        main, _, sub = item.split(";", 1)[0].strip().lower().partition("/")
        if main in ("*", "application") and sub in ("*", "json"):
            return True
    return False
