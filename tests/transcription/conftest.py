"""Fixtures for transcription tests: the local wire-format server, the settings
pointing at it, and a breaker namespace of each test's own (a test that makes the
endpoint fail must not leave the ``transcription`` circuit open for the next)."""

from __future__ import annotations

import uuid

import pytest
import redis

from analysis.providers.breakers import reset_breakers
from tests.transcription.server import API_KEY, MODEL, TranscriptionServer


@pytest.fixture
def transcription_server():
    server = TranscriptionServer().start()
    yield server
    server.stop()


@pytest.fixture
def transcription_settings(settings, transcription_server):
    namespace = f"test-breaker:{uuid.uuid4().hex}"
    redis_url = settings.REDIS_URL
    settings.PROVIDER_BREAKER_NAMESPACE = namespace
    settings.PROVIDER_RETRY_BASE_DELAY = 0.01
    settings.PROVIDER_MAX_RETRIES = 3
    settings.PROVIDER_TIMEOUT = 20.0
    settings.TRANSCRIPTION_BASE_URL = transcription_server.base_url
    settings.TRANSCRIPTION_API_KEY = API_KEY
    settings.TRANSCRIPTION_MODEL = MODEL
    settings.TRANSCRIPTION_MAX_UPLOAD_MB = 25.0
    settings.TRANSCRIPTION_PRICE_PER_MINUTE_USD = None
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
