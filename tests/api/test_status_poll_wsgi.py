"""The status poll's WSGI fast path (analysis/api/status_poll_wsgi.py): a cached poll
answered before Django's handler gives the view's answer byte for byte and header
for header; everything else is Django's answer, with the one Redis round trip
counted once."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import RequestFactory
from django_prometheus.middleware import PrometheusBeforeMiddleware

from analysis import cache
from analysis.api import status_poll_wsgi
from analysis.api.status_poll_wsgi import StatusPollApplication
from analysis.models_api import hash_token
from media_analysis import db_backend
from tests.api.conftest import make_completed, make_request
from tests.api.test_status_fast_path import (
    FAST_PATH,
    IDS,
    client_of,
    poll,
    read_counter,
    view_only_client,
)

pytestmark = pytest.mark.django_db

PER_REQUEST = ("X-Request-ID", "X-Correlation-ID")


@dataclass
class Answer:
    status_code: int
    reason: str
    headers: list[tuple[str, str]]
    content: bytes
    fast: bool  # answered by the fast path, not Django's handler

    def __getitem__(self, name: str) -> str:
        return dict(self.headers)[name]


def application() -> StatusPollApplication:
    """What media_analysis.wsgi builds, around a handler with this test's settings."""
    return StatusPollApplication(WSGIHandler())


def environ_of(caller, request_id, *, secure=False, token=None, **extra) -> dict:
    """The environ a server gives for a poll, built as the test client builds it."""
    token = caller.token if token is None else token
    factory = RequestFactory()
    return factory.get(
        f"/api/media/status/{request_id}",
        secure=secure,
        HTTP_AUTHORIZATION=f"Token {token}",
        **extra,
    ).environ


def call(app, environ) -> Answer:
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen.update(status=status, headers=headers)

    # As the test client does: the test's transaction is not a stale connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        out = app(environ, start_response)
        content = b"".join(out)
        if hasattr(out, "close"):
            out.close()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    code, _, reason = seen["status"].partition(" ")
    return Answer(int(code), reason, list(seen["headers"]), content, isinstance(out, list))


def wsgi_poll(app, caller, request_id, **extra) -> Answer:
    return call(app, environ_of(caller, request_id, **extra))


def same_answer(answer: Answer, view, *, ids_sent: bool = True) -> None:
    assert answer.status_code == view.status_code
    assert answer.reason == view.reason_phrase
    assert answer.content == view.content
    if ids_sent:
        assert answer.headers == list(view.items())
    else:
        assert [h for h in answer.headers if h[0] not in PER_REQUEST] == [
            h for h in view.items() if h[0] not in PER_REQUEST
        ]
        assert [h[0] for h in answer.headers] == [h[0] for h in view.items()]
        for name in PER_REQUEST:
            assert uuid.UUID(answer[name]).version == 4


def test_media_analysis_wsgi_wraps_djangos_application(monkeypatch):
    # Importing the entry point turns connection retries off for the process, as it
    # must in the web: put the flag back for the tests that follow.
    monkeypatch.setattr(db_backend, "_retries_disabled", db_backend.connect_retries_disabled())
    # Imported here, not at the top, for that reason.
    from media_analysis import wsgi

    assert isinstance(wsgi.application, StatusPollApplication)
    assert wsgi.application.application is wsgi.django_application


# ------------------------------------------------------------- the same answer
@pytest.mark.parametrize("secure", [False, True])
@pytest.mark.parametrize("who", ["alice", "staff"])
def test_a_cached_poll_gets_the_views_answer_byte_for_byte(alice, staff, settings, who, secure):
    settings.SECURE_HSTS_SECONDS = 3600  # sent on secure answers
    caller = {"alice": alice, "staff": staff}[who]
    request = make_completed(alice.user)
    app = application()
    first = wsgi_poll(app, caller, request.id, secure=secure, **IDS)  # a miss: fills the cache
    fast = wsgi_poll(app, caller, request.id, secure=secure, **IDS)
    no_ids = wsgi_poll(app, caller, request.id, secure=secure)
    view = poll(view_only_client(caller, settings), request.id, secure=secure, **IDS)
    view_no_ids = poll(client_of(caller), request.id, secure=secure)
    assert not first.fast and fast.fast and no_ids.fast
    assert first["X-Data-Source"] == "database" and fast["X-Data-Source"] == "cache"
    assert view.status_code == 200 and view["X-Data-Source"] == "cache"
    same_answer(fast, view)
    same_answer(no_ids, view_no_ids, ids_sent=False)
    assert ("Strict-Transport-Security" in dict(fast.headers)) == secure


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", "text/html, */*;q=0.8"])
def test_accept_headers_the_view_answers_with_json_take_the_fast_path(alice, accept):
    request = make_request(alice.user)
    app = application()
    wsgi_poll(app, alice, request.id)
    extra = {} if accept is None else {"HTTP_ACCEPT": accept}
    answer = wsgi_poll(app, alice, request.id, **extra)
    assert answer.status_code == 200 and answer.fast


def test_a_forwarded_host_is_validated_as_django_does(alice, settings):
    settings.USE_X_FORWARDED_HOST = True
    settings.ALLOWED_HOSTS = ["api.example"]
    request = make_request(alice.user)
    app = application()
    forwarded = {"HTTP_X_FORWARDED_HOST": "api.example", **IDS}
    wsgi_poll(app, alice, request.id, **forwarded)
    assert wsgi_poll(app, alice, request.id, **forwarded).fast
    refused = wsgi_poll(app, alice, request.id, HTTP_X_FORWARDED_HOST="evil.example", **IDS)
    assert refused.status_code == 400 and not refused.fast
    assert wsgi_poll(app, alice, request.id, **IDS).status_code == 400  # testserver: not allowed


def test_the_https_redirect_is_left_to_django(alice, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    request = make_request(alice.user)
    app = application()
    wsgi_poll(app, alice, request.id, secure=True)
    plain = wsgi_poll(app, alice, request.id, **IDS)
    assert plain.status_code == 301 and not plain.fast
    assert plain["Location"].startswith("https://")
    proxied = wsgi_poll(app, alice, request.id, HTTP_X_FORWARDED_PROTO="https")
    assert proxied.fast and "Strict-Transport-Security" in dict(proxied.headers)
    assert wsgi_poll(app, alice, request.id, secure=True).fast


def test_fast_answers_are_counted_by_prometheus_outer_families(alice):
    metrics = PrometheusBeforeMiddleware.metrics_cls.get_instance()
    request = make_request(alice.user)
    app = application()
    wsgi_poll(app, alice, request.id)
    before = (metrics.requests_total._value.get(), metrics.responses_total._value.get())
    assert wsgi_poll(app, alice, request.id).fast
    after = (metrics.requests_total._value.get(), metrics.responses_total._value.get())
    assert after == (before[0] + 1, before[1] + 1)


def test_the_request_context_is_set_while_the_fast_path_works(alice, monkeypatch):
    request = make_request(alice.user)
    app = application()
    wsgi_poll(app, alice, request.id)
    seen, real = {}, cache.prefetch_status_poll

    def spy(*args):
        from media_analysis import context  # read where it is set

        seen.update(request=context.current_request_id(), story=context.current_correlation_id())
        return real(*args)

    monkeypatch.setattr(cache, "prefetch_status_poll", spy)
    answer = wsgi_poll(app, alice, request.id, **IDS)
    assert answer.fast
    assert seen == {
        "request": IDS["HTTP_X_REQUEST_ID"],
        "story": uuid.UUID(IDS["HTTP_X_CORRELATION_ID"]),
    }


# ---------------------------------------------------------- left to Django
def test_a_miss_is_answered_by_django_then_the_cache_each_counted_once(alice):
    request = make_request(alice.user)
    app = application()
    cache.reset_cache_stats()
    first, second = wsgi_poll(app, alice, request.id), wsgi_poll(app, alice, request.id)
    assert (first["X-Data-Source"], first.fast) == ("database", False)
    assert (second["X-Data-Source"], second.fast) == ("cache", True)
    assert first.content == second.content
    assert cache.cache_stats()["status"] == {"lookups": 2, "misses": 1, "hits": 1}
    assert read_counter(alice) == 2


def test_someone_elses_request_is_djangos_404_counted_once(alice, bob, settings):
    request = make_request(alice.user)
    app = application()
    wsgi_poll(app, alice, request.id)
    cache.reset_cache_stats()
    answer = wsgi_poll(app, bob, request.id, **IDS)
    assert answer.status_code == 404 and not answer.fast
    assert cache.cache_stats()["status"] == {"lookups": 1, "misses": 0, "hits": 1}
    assert read_counter(bob) == 1
    view = poll(view_only_client(bob, settings), request.id, **IDS)
    same_answer(answer, view)


def test_a_throttled_caller_gets_429_from_django_counted_once(alice, settings):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "read": "2/min"}
    request = make_request(alice.user)
    app = application()
    answers = [wsgi_poll(app, alice, request.id) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.fast for a in answers] == [False, True, False]
    assert 1 <= int(answers[2]["Retry-After"]) <= 60
    assert read_counter(alice) == 3


def test_an_expired_cached_token_gets_401_from_django(alice):
    request = make_request(alice.user)
    app = application()
    wsgi_poll(app, alice, request.id)
    digest = hash_token(alice.token)
    cached = cache.get_token(digest)
    cached["expires_at"] = time.time() - 1
    cache.store_token(digest, cached, 60)
    answer = wsgi_poll(app, alice, request.id)
    assert answer.status_code == 401 and not answer.fast


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"HTTP_ACCEPT": "text/html"}, 406),
        ({"HTTP_ACCEPT": ""}, 406),
        ({"HTTP_HOST": "evil.example"}, 400),
        ({"HTTP_AUTHORIZATION": "Token"}, 401),
    ],
)
def test_unusual_requests_get_djangos_answer(alice, settings, headers, status):
    request = make_request(alice.user)
    app = application()
    wsgi_poll(app, alice, request.id)
    environ = environ_of(alice, request.id, **IDS)
    environ.update(headers)
    answer = call(app, environ)
    view = poll(view_only_client(alice, settings, **headers), request.id, **IDS)
    assert answer.status_code == status and not answer.fast
    same_answer(answer, view)


def test_a_malformed_id_and_head_go_to_django(alice):
    request = make_request(alice.user)
    app = application()
    wsgi_poll(app, alice, request.id)
    bad = wsgi_poll(app, alice, "not-a-uuid")
    assert bad.status_code == 400 and not bad.fast
    environ = environ_of(alice, request.id)
    environ["REQUEST_METHOD"] = "HEAD"
    head = call(app, environ)
    assert head.status_code == 200 and not head.fast


def test_redis_away_leaves_the_poll_to_django(alice, monkeypatch):
    request = make_request(alice.user)
    app = application()
    wsgi_poll(app, alice, request.id)
    monkeypatch.setattr(cache, "prefetch_status_poll", lambda *args: None)
    answer = wsgi_poll(app, alice, request.id)
    assert answer.status_code == 200 and not answer.fast


def test_a_failure_in_the_fast_path_leaves_the_poll_to_django_counted_once(alice, monkeypatch):
    request = make_request(alice.user)
    app = application()
    wsgi_poll(app, alice, request.id)

    def broken(response):
        raise RuntimeError("boom")

    monkeypatch.setattr(status_poll_wsgi, "_wsgi_answer", broken)  # after the round trip
    answer = wsgi_poll(app, alice, request.id, **IDS)
    assert answer.status_code == 200 and not answer.fast
    assert answer["X-Request-ID"] == IDS["HTTP_X_REQUEST_ID"]
    assert read_counter(alice) == 2


def test_ids_used_during_the_round_trip_are_the_responses(alice, bob, monkeypatch):
    """A poll left to Django keeps the ids its round trip's log lines carried."""
    request = make_request(alice.user)
    app = application()
    wsgi_poll(app, alice, request.id)
    seen, real = {}, cache.prefetch_status_poll

    def spy(*args):
        from media_analysis import context  # read where it is set

        seen.update(request=context.current_request_id())
        return real(*args)

    monkeypatch.setattr(cache, "prefetch_status_poll", spy)
    answer = wsgi_poll(app, bob, request.id)
    assert answer.status_code == 404 and not answer.fast
    assert answer["X-Request-ID"] == seen["request"]


# ------------------------------------------------------ where it stands aside
@pytest.mark.parametrize(
    "change",
    [
        {"MIDDLEWARE": "without the poll middleware"},
        {"MIDDLEWARE": "with an unknown outer middleware"},
        {"STATIC_URL": "/api/"},
        {"WHITENOISE_ROOT": "/srv/root"},
    ],
)
def test_settings_it_cannot_vouch_for_leave_every_poll_to_django(alice, settings, change):
    request = make_request(alice.user)
    wsgi_poll(application(), alice, request.id)
    name, value = next(iter(change.items()))
    if value == "without the poll middleware":
        value = [path for path in settings.MIDDLEWARE if path != FAST_PATH]
    elif value == "with an unknown outer middleware":
        value = ["django.middleware.gzip.GZipMiddleware", *settings.MIDDLEWARE]
    setattr(settings, name, value)
    answer = wsgi_poll(
        StatusPollApplication(lambda environ, start: _refuse(start)), alice, request.id
    )
    assert answer.status_code == 418 and not answer.fast


def _refuse(start_response):
    start_response("418 I'm a teapot", [])
    return iter([b""])


def test_remembered_host_verdicts_follow_what_django_reads(alice, settings):
    """CommonMiddleware's verdict is remembered by the values it reads: another host,
    another user agent, or changed settings are judged afresh."""
    import re

    settings.ALLOWED_HOSTS = ["api.example"]
    settings.DISALLOWED_USER_AGENTS = [re.compile("BadBot")]
    request = make_request(alice.user)
    app = application()
    good = {"HTTP_HOST": "api.example", "HTTP_USER_AGENT": "curl/8", **IDS}
    wsgi_poll(app, alice, request.id, **good)  # fills the cache
    assert wsgi_poll(app, alice, request.id, **good).fast
    assert wsgi_poll(app, alice, request.id, **good).fast  # a remembered verdict
    evil = wsgi_poll(app, alice, request.id, **{**good, "HTTP_HOST": "evil.example"})
    assert evil.status_code == 400 and not evil.fast
    bot = wsgi_poll(app, alice, request.id, **{**good, "HTTP_USER_AGENT": "BadBot/1"})
    assert bot.status_code == 403 and not bot.fast
    settings.ALLOWED_HOSTS = ["other.example"]
    refused = wsgi_poll(app, alice, request.id, **good)
    assert refused.status_code == 400 and not refused.fast
