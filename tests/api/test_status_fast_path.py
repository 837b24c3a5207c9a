"""The status poll's fast path (analysis/api/status_poll.py): a cached poll answered
before DRF gives the view's answer byte for byte and header for header; everything
else goes to the view, with the one Redis round trip counted once."""

from __future__ import annotations

import time
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from analysis import cache
from analysis.api import status_poll
from analysis.api.throttling import throttle_key
from analysis.models_api import hash_token
from media_analysis import context
from tests.api.conftest import error_of, make_completed, make_request

pytestmark = pytest.mark.django_db

FAST_PATH = "analysis.api.status_poll.StatusPollMiddleware"
IDS = {"HTTP_X_REQUEST_ID": str(uuid.uuid4()), "HTTP_X_CORRELATION_ID": str(uuid.uuid4())}


def poll(client, request_id, **extra):
    return client.get(f"/api/media/status/{request_id}", **extra)


def by_fast_path(response) -> bool:
    """The view's answers went through URL resolution; the fast path's did not."""
    return response.wsgi_request.resolver_match is None


def client_of(caller, **headers) -> APIClient:
    client = APIClient()
    client.credentials(**{"HTTP_AUTHORIZATION": f"Token {caller.token}", **headers})
    return client


def view_only_client(caller, settings, **headers) -> APIClient:
    """A client of a server without the fast path (its middleware loads on first use)."""
    settings.MIDDLEWARE = [path for path in settings.MIDDLEWARE if path != FAST_PATH]
    return client_of(caller, **headers)


def read_counter(caller) -> int:
    _, period = status_poll.read_rate()
    key = throttle_key("read", f"token:{hash_token(caller.token)[:24]}", period, time.time())
    return int(get_redis_connection("default").get(key) or 0)


# ------------------------------------------------------------- the same answer
@pytest.mark.parametrize("secure", [False, True])
@pytest.mark.parametrize("who", ["alice", "staff"])
def test_a_cached_poll_gets_the_views_answer_byte_for_byte(alice, staff, settings, who, secure):
    caller = {"alice": alice, "staff": staff}[who]
    request = make_completed(alice.user)
    first = poll(caller.client, request.id, secure=secure, **IDS)  # a miss: fills the cache
    fast = poll(caller.client, request.id, secure=secure, **IDS)
    view = poll(view_only_client(caller, settings), request.id, secure=secure, **IDS)
    assert not by_fast_path(first) and by_fast_path(fast) and not by_fast_path(view)
    assert fast.status_code == view.status_code == 200
    assert fast["X-Data-Source"] == view["X-Data-Source"] == "cache"
    assert list(fast.items()) == list(view.items())
    assert fast.content == view.content
    assert fast.json()["result"]["text"] == "A red square."


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", "text/html, */*;q=0.8"])
def test_accept_headers_the_view_answers_with_json_take_the_fast_path(alice, accept):
    request = make_request(alice.user)
    poll(alice.client, request.id)
    extra = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = poll(alice.client, request.id, **extra)
    assert response.status_code == 200 and by_fast_path(response)


def test_the_request_context_is_set_while_the_fast_path_works(alice, monkeypatch):
    """Log lines written meanwhile (a Redis warning) carry the exchange's ids."""
    request = make_request(alice.user)
    poll(alice.client, request.id)
    seen, real = {}, cache.prefetch_status_poll

    def spy(*args):
        seen.update(request=context.current_request_id(), story=context.current_correlation_id())
        return real(*args)

    monkeypatch.setattr(cache, "prefetch_status_poll", spy)
    response = poll(alice.client, request.id, **IDS)
    assert by_fast_path(response)
    assert seen == {
        "request": IDS["HTTP_X_REQUEST_ID"],
        "story": uuid.UUID(IDS["HTTP_X_CORRELATION_ID"]),
    }


# ---------------------------------------------------------- left to the view
def test_a_miss_is_answered_by_the_view_then_the_cache(alice):
    request = make_request(alice.user)
    first, second = poll(alice.client, request.id), poll(alice.client, request.id)
    assert (first["X-Data-Source"], by_fast_path(first)) == ("database", False)
    assert (second["X-Data-Source"], by_fast_path(second)) == ("cache", True)
    assert first.content == second.content


def test_someone_elses_cached_request_is_not_found(alice, bob):
    request = make_request(alice.user)
    poll(alice.client, request.id)
    response = poll(bob.client, request.id)
    assert response.status_code == 404 and not by_fast_path(response)
    assert error_of(response)["code"] == "not_found"


def test_a_throttled_caller_gets_429_from_the_view_counted_once(alice, settings):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "read": "2/min"}
    request = make_request(alice.user)
    answers = [poll(alice.client, request.id) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert by_fast_path(answers[1]) and not by_fast_path(answers[2])
    assert 1 <= int(answers[2]["Retry-After"]) <= 60
    assert read_counter(alice) == 3


def test_each_poll_makes_one_lookup_and_one_count_whichever_path(alice, bob):
    request = make_request(alice.user)
    cache.reset_cache_stats()
    poll(alice.client, request.id)  # miss: the view
    poll(alice.client, request.id)  # hit: the fast path
    poll(bob.client, request.id)  # hit, not bob's: the view (404)
    assert cache.cache_stats()["status"] == {"lookups": 3, "misses": 1, "hits": 2}
    assert read_counter(alice) == 2 and read_counter(bob) == 1


def test_a_token_due_for_its_recheck_goes_to_the_view(alice, settings):
    request = make_request(alice.user)
    poll(alice.client, request.id)
    digest = hash_token(alice.token)
    cached = cache.get_token(digest)
    cached["checked_at"] -= settings.API_TOKEN_CACHE_SECONDS + 1
    cache.store_token(digest, cached, 3600)
    with CaptureQueriesContext(connection) as queries:
        response = poll(alice.client, request.id)
    assert response.status_code == 200 and not by_fast_path(response)
    assert any("api_tokens" in q["sql"] for q in queries)
    assert by_fast_path(poll(alice.client, request.id))  # checked again: fast once more


def test_an_expired_cached_token_gets_401_from_the_view(alice):
    request = make_request(alice.user)
    poll(alice.client, request.id)
    digest = hash_token(alice.token)
    cached = cache.get_token(digest)
    cached["expires_at"] = time.time() - 1
    cache.store_token(digest, cached, 60)
    response = poll(alice.client, request.id)
    assert response.status_code == 401 and not by_fast_path(response)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"HTTP_ACCEPT": "text/html"}, 406),
        ({"HTTP_ACCEPT": ""}, 406),
        ({"HTTP_HOST": "evil.example"}, 400),  # refused by CommonMiddleware, before any view
        ({"HTTP_AUTHORIZATION": "Token"}, 401),
        ({"HTTP_AUTHORIZATION": ""}, 401),
    ],
)
def test_unusual_requests_get_the_full_paths_answer(alice, settings, headers, status):
    request = make_request(alice.user)
    poll(alice.client, request.id)
    response = poll(client_of(alice, **headers), request.id, **IDS)
    view = poll(view_only_client(alice, settings, **headers), request.id, **IDS)
    assert response.status_code == view.status_code == status
    assert list(response.items()) == list(view.items())
    assert response.content == view.content
    assert status == 400 or not by_fast_path(response)


def test_head_and_a_malformed_id_go_to_the_view(alice):
    request = make_request(alice.user)
    poll(alice.client, request.id)
    head = alice.client.head(f"/api/media/status/{request.id}")
    assert head.status_code == 200 and not by_fast_path(head)
    bad = poll(alice.client, "not-a-uuid")
    assert bad.status_code == 400 and error_of(bad)["code"] == "invalid_id"


def test_redis_away_leaves_the_poll_to_the_view(alice, monkeypatch):
    request = make_request(alice.user)
    poll(alice.client, request.id)
    monkeypatch.setattr(cache, "prefetch_status_poll", lambda *args: None)
    response = poll(alice.client, request.id)
    assert response.status_code == 200 and not by_fast_path(response)


def test_the_fast_path_answers_only_where_the_urlconf_has_the_status_view(settings):
    middleware = status_poll.StatusPollMiddleware(lambda request: None)
    assert middleware._route().url_name == "media-status"
    settings.ROOT_URLCONF = __name__  # this module: no URL at all
    assert middleware._route() is None


urlpatterns: list = []


# ------------------------------------------------------------- the round trip
def test_the_poll_script_is_loaded_again_after_redis_forgets_it(alice):
    request = make_request(alice.user)
    poll(alice.client, request.id)
    get_redis_connection("default").script_flush()
    response = poll(alice.client, request.id)
    assert response.status_code == 200 and by_fast_path(response)


def test_commands_are_packed_as_redis_py_packs_them():
    connection = get_redis_connection("default").connection_pool.make_connection()
    args = ("EVALSHA", "ab" * 20, 3, "media-analysis:api:status:é", "k:2", "k", 61)
    assert cache._pack(*args) == b"".join(connection.pack_command(*args))
