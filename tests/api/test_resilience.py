"""Circuit breakers against real failures, and the API with its Redis stopped.

PostgreSQL failures come from a real connection to a port nothing listens on; Redis
failures from this suite's own redis-server, stopped mid-test (never the
machine's). The PostgreSQL-down case of the whole service (gunicorn, its own
PostgreSQL stopped and restarted) is in ``test_faults.py``.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper

from analysis import cache
from analysis.models import AnalysisRequest
from media_analysis import resilience
from media_analysis.breaker import PEEK, BreakerConfig, RedisStore
from media_analysis.embedded import RedisServer, free_port
from media_analysis.resilience import DependencyUnavailable, call_database, redis_call
from tests.api.conftest import MEDIA_URL, make_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def fast_breakers(settings):
    settings.DB_BREAKER_RESET_TIMEOUT = 0.5
    settings.REDIS_BREAKER_RESET_TIMEOUT = 0.5
    resilience.reset_breakers()


def dead_database() -> DatabaseWrapper:
    """A real Django connection to a PostgreSQL port nobody listens on."""
    settings_dict = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": str(free_port())}
    settings_dict["OPTIONS"] = {"connect_timeout": 2}
    return DatabaseWrapper(settings_dict, alias="dead")


def test_the_database_breaker_opens_after_five_failures_and_then_fails_fast(fast_breakers):
    dead = dead_database()
    attempts = []

    def query():
        attempts.append(1)
        dead.ensure_connection()

    for _ in range(5):
        with pytest.raises(DependencyUnavailable):
            call_database(query)
    assert resilience.breaker_states()["database"] == "open"
    started = time.monotonic()
    for _ in range(50):
        with pytest.raises(DependencyUnavailable) as refused:
            call_database(query)
    assert time.monotonic() - started < 0.5  # no connection attempts
    assert len(attempts) == 5
    assert refused.value.retry_after >= 1
    assert refused.value.as_dict()["code"] == "database_unavailable"


def test_the_database_breaker_half_opens_then_closes_after_three_good_calls(fast_breakers):
    dead = dead_database()
    for _ in range(5):
        with pytest.raises(DependencyUnavailable):
            call_database(dead.ensure_connection)
    time.sleep(0.6)
    good = lambda: AnalysisRequest.objects.count()  # noqa: E731
    call_database(good)
    assert resilience.breaker_states()["database"] == "half-open"
    call_database(good)
    call_database(good)
    assert resilience.breaker_states()["database"] == "closed"


def test_a_failed_trial_call_opens_it_again(fast_breakers):
    dead = dead_database()
    for _ in range(5):
        with pytest.raises(DependencyUnavailable):
            call_database(dead.ensure_connection)
    time.sleep(0.6)
    with pytest.raises(DependencyUnavailable):
        call_database(dead.ensure_connection)
    assert resilience.breaker_states()["database"] == "open"


def test_refusals_that_are_not_outages_do_not_count(fast_breakers):
    for _ in range(10):
        with pytest.raises(ValueError):
            call_database(lambda: (_ for _ in ()).throw(ValueError("bad input")))
    assert resilience.breaker_states()["database"] == "closed"


def test_database_breaker_state_is_shared_through_redis(fast_breakers, settings):
    dead = dead_database()
    for _ in range(5):
        with pytest.raises(DependencyUnavailable):
            call_database(dead.ensure_connection)
    # Another process: a store of its own, reading the same Redis keys.
    cache = settings.CACHES["default"]
    other = RedisStore.from_url(cache["LOCATION"], f"{cache['KEY_PREFIX']}:breaker:database")
    seen = other.apply(PEEK, BreakerConfig(fail_max=5, reset_timeout=30))
    assert seen.state == "open"
    assert seen.failures >= 5


def test_a_recovering_database_gets_at_most_three_trial_calls_at_once(fast_breakers, settings):
    settings.DB_BREAKER_SUCCESS_THRESHOLD = 100  # stay half-open for the whole burst
    dead = dead_database()
    for _ in range(5):
        with pytest.raises(DependencyUnavailable):
            call_database(dead.ensure_connection)
    time.sleep(0.6)
    lock, running, peak, refused = threading.Lock(), [0], [0], []
    barrier = threading.Barrier(16)

    def slow_query() -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.8)
        with lock:
            running[0] -= 1

    def request() -> None:
        barrier.wait()
        try:
            call_database(slow_query)
        except DependencyUnavailable as exc:
            refused.append(exc.retry_after)

    threads = [threading.Thread(target=request) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert peak[0] == 3
    assert len(refused) >= 8
    assert set(refused) == {1}  # half-open and busy: try again in a second
    assert resilience.breaker_states()["database"] == "half-open"


def test_an_open_breaker_answers_api_writes_503_with_retry_after(alice, fast_breakers, settings):
    settings.DB_BREAKER_RESET_TIMEOUT = 30
    dead = dead_database()
    for _ in range(5):
        with pytest.raises(DependencyUnavailable):
            call_database(dead.ensure_connection)
    for response in (
        alice.client.post(
            "/api/media/analyze", {"media_url": MEDIA_URL, "prompt": "p"}, format="json"
        ),
        alice.client.post(f"/api/media/{make_request(alice.user).id}/cancel"),
    ):
        assert response.status_code == 503
        assert 1 <= int(response["Retry-After"]) <= 30
        assert response.json()["error"]["code"] == "database_unavailable"
    ready = alice.client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["level"] == "offline" and ready.json()["breakers"]["database"] == "open"


# --------------------------------------------------------------- Redis down
@pytest.fixture
def own_redis(tmp_path, settings):
    """A redis-server of this test's own, as the default cache (and nothing else)."""
    server = RedisServer(tmp_path / "redis", port=free_port()).start()
    caches = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": server.url}}
    caches["default"]["OPTIONS"] = {
        **caches["default"]["OPTIONS"],
        "SOCKET_CONNECT_TIMEOUT": 1,
        "SOCKET_TIMEOUT": 1,
    }
    settings.CACHES = caches
    resilience.reset_breakers()
    yield server
    server.stop()


def test_redis_down_the_api_answers_from_postgresql(
    alice, own_redis, fast_breakers, allow_local_media
):
    request = make_request(alice.user)
    assert alice.client.get(f"/api/media/status/{request.id}")["X-Data-Source"] == "database"
    assert alice.client.get(f"/api/media/status/{request.id}")["X-Data-Source"] == "cache"

    own_redis.stop()
    for _ in range(8):
        response = alice.client.get(f"/api/media/status/{request.id}")
        assert response.status_code == 200
        assert response["X-Data-Source"] == "database"
    assert resilience.breaker_states()["redis"] == "open"
    started = time.monotonic()
    for _ in range(20):
        assert alice.client.get("/api/media/history").status_code == 200
    assert time.monotonic() - started < 5  # no socket timeout per call while open
    submitted = alice.client.post(
        "/api/media/analyze", {"media_url": MEDIA_URL, "prompt": "p"}, format="json"
    )
    assert submitted.status_code == 202
    assert AnalysisRequest.objects.filter(pk=submitted.json()["id"]).exists()
    assert alice.client.post(f"/api/media/{request.id}/cancel").status_code == 200
    ready = alice.client.get("/health/ready").json()
    assert ready["level"] == "degraded" and ready["components"]["cache"]["status"] == "error"

    own_redis.start()  # an empty Redis, as after a restart
    time.sleep(0.6)  # the breaker's reset timeout
    for _ in range(3):
        alice.client.get(f"/api/media/status/{request.id}")
    assert resilience.breaker_states()["redis"] == "closed"
    response = alice.client.get(f"/api/media/status/{request.id}")
    assert response["X-Data-Source"] == "cache"
    assert response.json()["status"] == "cancelled"


def test_the_database_breaker_stays_open_in_memory_while_redis_is_down(
    own_redis, fast_breakers, settings
):
    settings.DB_BREAKER_RESET_TIMEOUT = 30
    settings.REDIS_BREAKER_RESET_TIMEOUT = 30
    dead = dead_database()
    attempts = []

    def query() -> None:
        attempts.append(1)
        dead.ensure_connection()

    for _ in range(5):
        with pytest.raises(DependencyUnavailable):
            call_database(query)
    own_redis.stop()  # the open state was in Redis; this process remembers it
    started = time.monotonic()
    for _ in range(20):
        with pytest.raises(DependencyUnavailable) as refused:
            call_database(query)

    assert len(attempts) == 5  # no connection attempt while open
    assert time.monotonic() - started < 2
    assert refused.value.retry_after > 20
    assert resilience.breaker_states() == {"database": "open", "redis": "open"}


def test_an_invalidation_lost_while_redis_was_unreachable_is_made_up(
    alice, own_redis, fast_breakers
):
    """Redis keeps its data but cannot be reached while a request changes: after it
    comes back, the stale entry must not be served."""
    request = make_request(alice.user)
    alice.client.get(f"/api/media/status/{request.id}")
    assert cache.lookup_status(request.id).hit
    own_redis.process.send_signal(19)  # SIGSTOP: unreachable, data kept
    try:
        from analysis import services

        services.cancel_request(request.id)
    finally:
        own_redis.process.send_signal(18)  # SIGCONT
    time.sleep(0.6)
    for _ in range(3):
        redis_call(lambda client: client.ping())
    body = alice.client.get(f"/api/media/status/{request.id}").json()
    assert body["status"] == "cancelled"
