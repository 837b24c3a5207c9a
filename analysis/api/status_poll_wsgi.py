"""The cached status poll answered before Django's handler: a WSGI wrapper.

``StatusPollMiddleware`` (``status_poll``) answers a cached poll without DRF, but
inside Django's handler: the request object, the request_started/finished signals
and the middleware before it still cost more than the answer. This wrapper, which
``media_analysis.wsgi`` puts around Django's application, answers the same polls
first, with the same code:

- a light request (``PollRequest``: the environ as ``META``, the path, the
  scheme), on which Django's own ``get_host()``, ``is_secure()`` and the
  middleware's hooks run;
- the middleware before ``StatusPollMiddleware`` in MIDDLEWARE, done as they do it:
  SecurityMiddleware's HTTPS redirect (needed: the full path answers) and response
  headers (its ``process_response``), the request context's ids
  (``RequestContextMiddleware``: the valid UUIDs sent, else new ones, with the
  context set while the round trip runs), WhiteNoise (never a file under the status
  path, checked once), django-prometheus's outer counts and latency (its metric
  objects);
- then ``StatusPollMiddleware.from_cache``: the route, the ``Accept`` header,
  CommonMiddleware's checks (the host as Django validates it, user agents, www),
  the one Redis round trip and the checks the view would make, and the hooks of the
  middleware after it (X-Frame-Options, Content-Length).

Anything else goes to Django's application unchanged, with the round trip's result
(if one was made) in the environ so that nothing is counted twice
(``status_poll.prefetch_for`` picks it up), and with the ids used meanwhile in the
environ's X-Request-ID / X-Correlation-ID, which RequestContextMiddleware keeps (as
from a proxy), so log lines written during the round trip and the response agree.
Any exception here leaves the poll to Django, as does a MIDDLEWARE before
``StatusPollMiddleware`` holding anything else than the middleware above.

Not done for a fast answer, as for ``StatusPollMiddleware``'s: django-prometheus's
inner per-view families; and Django's request_started/request_finished signals
(``close_old_connections``, ``close_caches``), which have nothing to do for an
answer that used no database connection and no Django cache.
``tests/api/test_status_poll_wsgi.py`` compares the answers with the view's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.handlers.wsgi import get_script_name
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from django_prometheus.utils import Time, TimeSince

from analysis.api.status_poll import PREFETCH_ENVIRON_KEY, STATUS_PREFIX, StatusPollMiddleware
from media_analysis.context import (
    CORRELATION_HEADER,
    CORRELATION_META,
    REQUEST_HEADER,
    REQUEST_META,
    exchange_id_text,
    serving,
)

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

POLL_MIDDLEWARE = f"{StatusPollMiddleware.__module__}.{StatusPollMiddleware.__name__}"
PROMETHEUS = "django_prometheus.middleware.PrometheusBeforeMiddleware"
CONTEXT = "media_analysis.middleware.RequestContextMiddleware"
SECURITY = "django.middleware.security.SecurityMiddleware"
WHITENOISE = "whitenoise.middleware.WhiteNoiseMiddleware"
# The middleware that may come before StatusPollMiddleware: what each does to a
# status poll is done here.
KNOWN_OUTER = frozenset({PROMETHEUS, CONTEXT, SECURITY, WHITENOISE})


class PollRequest(HttpRequest):
    """What the checks and hooks read of a request, as a WSGIRequest has it: the
    environ as META, the path (ASCII only: no decoding to do), the scheme. No query
    dicts, cookies or body: nothing on the fast path reads them (an attribute
    missing raises, and the full path answers)."""

    def __init__(self, environ: dict[str, Any], path_info: str) -> None:
        # HttpRequest.__init__ is not called: its empty query dicts cost more than
        # the rest of the request.
        self.environ = self.META = environ
        self.method = "GET"
        self.path_info = path_info
        script_name = get_script_name(environ)
        self.path = "{}/{}".format(script_name.rstrip("/"), path_info.replace("/", "", 1))
        self.resolver_match = None
        self.content_type = None
        self.content_params = None

    def _get_scheme(self) -> str:
        return self.environ.get("wsgi.url_scheme")


# What stands in the computed shape for the three values an answer has of its own.
_LENGTH_SLOT = "<content-length>"
_CORRELATION_SLOT = "<correlation-id>"
_REQUEST_SLOT = "<request-id>"


@dataclass(frozen=True)
class AnswerShape:
    """A fast answer's status line and headers, as StatusPollMiddleware.respond and
    the outer middleware's hooks make them, with slots for what differs from one
    answer to the next: the body's length and the two ids. Everything else those
    hooks add depends only on the settings and on whether the request is secure
    (HSTS), so it is computed once per kind, not per poll: building the
    HttpResponse and running five hooks was a fifth of the poll's own CPU.
    ``tests/api/test_status_poll_wsgi.py`` compares every answer with the view's."""

    status: str
    headers: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, status: str, headers: list[tuple[str, str]]) -> AnswerShape:
        slotted = [
            (name, _LENGTH_SLOT if name == "Content-Length" else value) for name, value in headers
        ]
        return cls(status, tuple(slotted))

    def headers_for(self, body: bytes, correlation_id: str, request_id: str) -> list:
        values = {
            _LENGTH_SLOT: str(len(body)),
            _CORRELATION_SLOT: correlation_id,
            _REQUEST_SLOT: request_id,
        }
        return [(name, values.get(value, value)) for name, value in self.headers]


@dataclass(frozen=True)
class _Plan:
    """What the fast path does, from MIDDLEWARE (read once, when the first poll comes)."""

    poll: StatusPollMiddleware
    outer_hooks: tuple[str, ...]  # the outer middleware that change a response, innermost first
    security: Any  # SecurityMiddleware or None
    context: bool
    metrics: Any  # django-prometheus's Metrics or None


class StatusPollApplication:
    def __init__(self, application: WSGIApp) -> None:
        self.application = application
        self._plan: _Plan | None = None
        self._planned = False
        self._shapes: dict[bool, AnswerShape] = {}  # by request.is_secure()
        setting_changed.connect(self.forget_shapes, weak=True)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO", "").startswith(
            STATUS_PREFIX
        ):
            answer = self._answer(environ)
            if answer is not None:
                status, headers, body = answer
                start_response(status, headers)
                return [body]
        return self.application(environ, start_response)

    def _answer(self, environ: dict[str, Any]) -> tuple[str, list, bytes] | None:
        started = Time()
        request = None
        try:
            plan = self._plan if self._planned else self._make_plan()
            path_info = environ["PATH_INFO"]
            if plan is None or not path_info.isascii():
                return None
            request = PollRequest(environ, path_info)
            if plan.security is not None and plan.security.process_request(request) is not None:
                return None  # the HTTPS redirect: the full path gives it
            if plan.context:
                correlation_id = exchange_id_text(environ.get(CORRELATION_META))
                request_id = exchange_id_text(environ.get(REQUEST_META))
                request.correlation_id, request.request_id = correlation_id, request_id
                with serving(request):
                    body = plan.poll.cached_body(request)
            else:
                correlation_id = request_id = ""
                body = plan.poll.cached_body(request)
            if body is None:
                _hand_over(environ, request)
                return None
            shape = self._shapes.get(request.is_secure()) or self._shape_of(plan, request)
            answer = shape.status, shape.headers_for(body, correlation_id, request_id), body
            if plan.metrics is not None:  # PrometheusBeforeMiddleware's counts
                plan.metrics.requests_total.inc()
                plan.metrics.responses_total.inc()
                plan.metrics.requests_latency_before.observe(TimeSince(started))
        except Exception:
            log.warning("status poll fast path failed; the full path answers", exc_info=True)
            if request is not None:
                _hand_over(environ, request)
            return None
        return answer

    def _make_plan(self) -> _Plan | None:
        self._plan = _plan()
        self._planned = True
        return self._plan

    def _shape_of(self, plan: _Plan, request: PollRequest) -> AnswerShape:
        """The answer's status and headers as the middleware make them (computed once
        for plain and once for secure requests; see AnswerShape)."""
        response = plan.poll.respond(request, b"")
        for path in plan.outer_hooks:  # innermost first, as Django runs them
            if path == SECURITY:
                response = plan.security.process_response(request, response)
            elif path == CONTEXT:
                response[CORRELATION_HEADER] = _CORRELATION_SLOT
                response[REQUEST_HEADER] = _REQUEST_SLOT
        status, headers, _ = _wsgi_answer(response)
        shape = AnswerShape.of(status, headers)
        self._shapes[request.is_secure()] = shape
        return shape

    def forget_shapes(self, **kwargs: Any) -> None:
        """Settings changed (tests only: production settings never change)."""
        self._shapes = {}


def _plan() -> _Plan | None:
    middleware = list(settings.MIDDLEWARE)
    if POLL_MIDDLEWARE not in middleware:
        return None
    outer = middleware[: middleware.index(POLL_MIDDLEWARE)]
    if not set(outer) <= KNOWN_OUTER or (WHITENOISE in outer and _whitenoise_may_serve()):
        return None
    metrics = None
    if PROMETHEUS in outer:
        metrics = import_string(PROMETHEUS).metrics_cls.get_instance()
    security = import_string(SECURITY)(_no_response) if SECURITY in outer else None
    return _Plan(
        poll=StatusPollMiddleware(_no_response),
        outer_hooks=tuple(path for path in reversed(outer) if path in (SECURITY, CONTEXT)),
        security=security,
        context=CONTEXT in outer,
        metrics=metrics,
    )


def _whitenoise_may_serve() -> bool:
    """Whether WhiteNoise could answer a path under the status prefix (its prefix as
    WhiteNoiseMiddleware computes it, or files at the root)."""
    if getattr(settings, "WHITENOISE_ROOT", None):
        return True
    prefix = getattr(settings, "WHITENOISE_STATIC_PREFIX", None)
    if prefix is None:
        prefix = urlparse(settings.STATIC_URL or "").path
        script_name = (settings.FORCE_SCRIPT_NAME or "").rstrip("/")
        if script_name and prefix.startswith(script_name):
            prefix = prefix[len(script_name) :]
    prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
    return STATUS_PREFIX.startswith(prefix)


def _no_response(request: HttpRequest) -> HttpResponse:
    raise AssertionError("the fast path's middleware only run their hooks")


def _hand_over(environ: dict[str, Any], request: PollRequest) -> None:
    """What the full path takes from the fast path's attempt: the round trip's result
    and the ids the context had."""
    if hasattr(request, "api_prefetch"):
        environ[PREFETCH_ENVIRON_KEY] = request.api_prefetch
    if hasattr(request, "request_id"):
        environ[CORRELATION_META] = request.correlation_id
        environ[REQUEST_META] = request.request_id


def _wsgi_answer(response: HttpResponse) -> tuple[str, list, bytes]:
    """What Django's WSGIHandler gives the server for this response."""
    if response.cookies or response.streaming:
        raise ValueError("the fast path answers with plain bytes only")
    status = f"{response.status_code} {response.reason_phrase}"
    # The (name, value) pairs response.items() would give, without a lookup per name
    # (tests/api/test_status_poll_wsgi.py compares them with the view's).
    return status, list(response.headers._store.values()), response.content
