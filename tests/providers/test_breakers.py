"""The circuit breaker per provider: opens after 5 failures, fails fast without an
HTTP call, half-opens after the reset timeout, closes after 3 successes; state in
Redis (shared between processes) or in memory when Redis is unreachable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from analysis.providers import ProviderError, ProviderRequest, breakers
from analysis.providers.breakers import breaker_is_shared, breaker_state, reset_breakers
from analysis.providers.openai_compatible import OpenAICompatibleProvider, config_from_settings
from analysis.providers.retry import RetryPolicy
from tests.conftest import ROOT
from tests.providers import sample_facts
from tests.providers.conftest import API_KEY

REQUEST = ProviderRequest(prompt="Describe it.", facts=sample_facts.image_facts())
OK_BODY = {
    "model": "gpt-4o-mini",
    "choices": [{"message": {"role": "assistant", "content": "fine"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 2},
}


class SwitchableUpstream:
    """A handler that fails with a status until told to succeed."""

    def __init__(self, status: int = 500) -> None:
        self.status = status

    def __call__(self, request: Request) -> Response:
        if self.status >= 400:
            return Response(json.dumps({"error": {"message": "down"}}), status=self.status)
        return Response(json.dumps(OK_BODY), content_type="application/json")


@pytest.fixture
def upstream(httpserver) -> SwitchableUpstream:
    handler = SwitchableUpstream()
    httpserver.expect_request("/v1/chat/completions").respond_with_handler(handler)
    return handler


@pytest.fixture
def provider(httpserver, settings, sleeps) -> OpenAICompatibleProvider:
    settings.OPENAI_BASE_URL = httpserver.url_for("/v1")
    settings.OPENAI_API_KEY = API_KEY
    no_retries = RetryPolicy(max_retries=0, sleep=sleeps)
    return OpenAICompatibleProvider(config_from_settings("openai"), retry_policy=no_retries)


def fail_times(provider, count: int, code: str = "provider_unavailable") -> None:
    for _ in range(count):
        with pytest.raises(ProviderError) as caught:
            provider.analyse(REQUEST)
        assert caught.value.code == code


def test_opens_after_five_failures_then_fails_fast_without_http(provider, upstream, httpserver):
    fail_times(provider, 4)
    assert breaker_state("openai") == "closed"
    fail_times(provider, 1)  # the fifth failure trips it, with the provider's own error
    assert breaker_state("openai") == "open"

    with pytest.raises(ProviderError) as caught:
        provider.analyse(REQUEST)

    assert caught.value.code == "provider_circuit_open"
    assert caught.value.retryable is True
    assert len(httpserver.log) == 5  # no HTTP call while open


def test_state_is_kept_in_redis_under_the_providers_namespace(
    provider, upstream, settings, redis_client
):
    assert breaker_is_shared("openai") is True
    fail_times(provider, 5)

    key = f"{settings.PROVIDER_BREAKER_NAMESPACE}:openai:state"
    assert redis_client.hget(key, "state") == b"open"
    assert redis_client.hget(key, "failures") == b"5"
    other = f"{settings.PROVIDER_BREAKER_NAMESPACE}:novita:state"
    assert redis_client.exists(other) == 0  # each provider has its own circuit


def test_retries_inside_one_call_trip_the_circuit_and_stop(httpserver, settings, upstream, sleeps):
    settings.OPENAI_BASE_URL = httpserver.url_for("/v1")
    settings.OPENAI_API_KEY = API_KEY
    retrying = OpenAICompatibleProvider(
        config_from_settings("openai"), retry_policy=RetryPolicy(max_retries=3, sleep=sleeps)
    )
    fail_times(retrying, 1)  # 4 attempts, 4 failures
    with pytest.raises(ProviderError) as caught:
        retrying.analyse(REQUEST)  # 5th failure trips it; the next attempt is refused

    assert caught.value.code == "provider_circuit_open"
    assert len(httpserver.log) == 5


def test_client_errors_do_not_count_against_the_provider(provider, upstream, httpserver):
    upstream.status = 400
    fail_times(provider, 8, code="provider_bad_request")

    assert breaker_state("openai") == "closed"
    assert len(httpserver.log) == 8


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "memory"])
def test_half_open_after_the_reset_timeout_then_closed_after_three_successes(
    provider, upstream, settings, httpserver, shared
):
    settings.PROVIDER_BREAKER_REDIS = shared
    settings.PROVIDER_BREAKER_RESET_TIMEOUT = 0.2
    reset_breakers()
    fail_times(provider, 5)
    with pytest.raises(ProviderError, match="provider_circuit_open"):
        provider.analyse(REQUEST)

    time.sleep(0.25)
    upstream.status = 200
    provider.analyse(REQUEST)  # the trial call
    assert breaker_state("openai") == "half-open"
    provider.analyse(REQUEST)
    assert breaker_state("openai") == "half-open"
    provider.analyse(REQUEST)
    assert breaker_state("openai") == "closed"
    assert len(httpserver.log) == 8


def test_a_failure_while_half_open_opens_it_again(provider, upstream, settings):
    settings.PROVIDER_BREAKER_REDIS = False
    settings.PROVIDER_BREAKER_RESET_TIMEOUT = 0.2
    reset_breakers()
    fail_times(provider, 5)
    time.sleep(0.25)
    upstream.status = 200
    provider.analyse(REQUEST)
    upstream.status = 503
    fail_times(provider, 1)

    assert breaker_state("openai") == "open"
    with pytest.raises(ProviderError, match="provider_circuit_open"):
        provider.analyse(REQUEST)


@pytest.fixture
def threaded_httpserver():
    """An upstream that answers requests in parallel (the default one queues them)."""
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


def test_a_recovering_provider_gets_at_most_three_trial_requests_at_once(
    threaded_httpserver, settings, sleeps
):
    httpserver = threaded_httpserver
    settings.OPENAI_BASE_URL = httpserver.url_for("/v1")
    settings.OPENAI_API_KEY = API_KEY
    settings.PROVIDER_BREAKER_RESET_TIMEOUT = 0.2
    settings.PROVIDER_BREAKER_SUCCESS_THRESHOLD = 100  # stay half-open for the burst
    lock, running, peak = threading.Lock(), [0], [0]
    upstream = SwitchableUpstream()

    def slow(request: Request) -> Response:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.8 if upstream.status < 400 else 0)
        with lock:
            running[0] -= 1
        return upstream(request)

    httpserver.expect_request("/v1/chat/completions").respond_with_handler(slow)
    provider = OpenAICompatibleProvider(
        config_from_settings("openai"), retry_policy=RetryPolicy(max_retries=0, sleep=sleeps)
    )
    fail_times(provider, 5)
    time.sleep(0.25)
    upstream.status = 200
    codes: list[str] = []
    barrier = threading.Barrier(12)

    def caller() -> None:
        barrier.wait()
        try:
            provider.analyse(REQUEST)
            codes.append("ok")
        except ProviderError as exc:
            codes.append(exc.code)

    threads = [threading.Thread(target=caller) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert peak[0] == 3
    assert codes.count("ok") + codes.count("provider_circuit_open") == 12
    assert codes.count("provider_circuit_open") >= 6
    assert len(httpserver.log) == 5 + codes.count("ok")


def test_a_provider_trial_permit_outlasts_one_provider_call(settings):
    settings.BREAKER_TRIAL_PERMIT_SECONDS = 30
    settings.PROVIDER_TIMEOUT = 120
    settings.PROVIDER_CONNECT_TIMEOUT = 10
    assert breakers._config().permit_seconds == 130
    settings.PROVIDER_TIMEOUT = 5
    assert breakers._config().permit_seconds == 30


def test_shared_circuit_recovers_when_its_opening_time_is_moved_back(
    provider, upstream, settings, redis_client
):
    """With the real 30 s reset timeout: move the stored opening time 31 s back
    instead of sleeping."""
    fail_times(provider, 5)
    key = f"{settings.PROVIDER_BREAKER_NAMESPACE}:openai:state"
    redis_client.hset(key, "opened_at", time.time() - 31)

    upstream.status = 200
    for expected in ("half-open", "half-open", "closed"):
        provider.analyse(REQUEST)
        assert breaker_state("openai") == expected


def test_another_process_sees_the_open_circuit(provider, upstream, settings, httpserver):
    fail_times(provider, 5)
    script = (
        "import django; django.setup()\n"
        "from analysis.providers import ProviderError, ProviderRequest, get_provider\n"
        "try:\n"
        "    get_provider('openai').analyse(ProviderRequest(prompt='x'))\n"
        "except ProviderError as exc:\n"
        "    print(exc.code)\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "media_analysis.settings",
        "REDIS_URL": settings.REDIS_URL,
        "OPENAI_BASE_URL": httpserver.url_for("/v1"),
        "OPENAI_API_KEY": API_KEY,
        "PROVIDER_BREAKER_NAMESPACE": settings.PROVIDER_BREAKER_NAMESPACE,
        "LOG_LEVEL": "error",
    }
    child = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert child.stdout.strip() == "provider_circuit_open", child.stderr
    assert len(httpserver.log) == 5


def test_breaker_works_in_memory_when_redis_is_unreachable(
    provider, upstream, settings, closed_port, httpserver
):
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{closed_port}/0"},
    }
    reset_breakers()

    assert breaker_is_shared("openai") is False
    fail_times(provider, 5)
    with pytest.raises(ProviderError, match="provider_circuit_open"):
        provider.analyse(REQUEST)
    assert len(httpserver.log) == 5
