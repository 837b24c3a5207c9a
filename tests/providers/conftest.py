"""Fixtures for provider tests: each test gets its own breaker namespace in Redis,
fast retry settings, and a retry policy whose waits are recorded (not slept)."""

from __future__ import annotations

import socket
import uuid

import pytest
import redis

from analysis.providers.breakers import reset_breakers
from analysis.providers.retry import RetryPolicy

API_KEY = "sk-test-0123456789abcdef"


class RecordingSleep:
    """Stands in for time.sleep: remembers each wait instead of spending it."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def fast_retry(sleeps: RecordingSleep) -> RetryPolicy:
    return RetryPolicy(
        max_retries=3, base_delay=0.5, max_delay=10.0, sleep=sleeps, jitter=lambda: 0.5
    )


@pytest.fixture(autouse=True)
def provider_settings(settings):
    """Isolated breaker state (a namespace of this test's own) and quick limits."""
    namespace = f"test-breaker:{uuid.uuid4().hex}"
    redis_url = settings.REDIS_URL  # a test may point REDIS_URL elsewhere
    settings.PROVIDER_BREAKER_NAMESPACE = namespace
    settings.PROVIDER_BREAKER_REDIS = True
    settings.PROVIDER_BREAKER_FAIL_MAX = 5
    settings.PROVIDER_BREAKER_RESET_TIMEOUT = 30.0
    settings.PROVIDER_BREAKER_SUCCESS_THRESHOLD = 3
    settings.PROVIDER_MAX_RETRIES = 3
    settings.PROVIDER_RETRY_BASE_DELAY = 0.01
    settings.PROVIDER_RETRY_MAX_DELAY = 10.0
    settings.PROVIDER_TIMEOUT = 5.0
    settings.PROVIDER_CONNECT_TIMEOUT = 2.0
    settings.MEDIA_ANALYSIS_DEFAULT_PROVIDER = "builtin"
    for prefix in ("OPENROUTER", "NOVITA", "OPENAI", "GEMINI"):
        setattr(settings, f"{prefix}_API_KEY", None)
    settings.OPENAI_BASE_URL = "https://api.openai.com/v1"
    settings.GEMINI_USE_VERTEX = False
    settings.GEMINI_BASE_URL = None
    reset_breakers()
    yield settings
    reset_breakers()
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(f"{namespace}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_client(settings):
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
