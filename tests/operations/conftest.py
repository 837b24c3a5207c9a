"""Fixtures for running the service's real processes (see ``stack.py``)."""

from __future__ import annotations

import os

import pytest
from django.db import connection

from media_analysis.embedded import RedisServer, free_port
from tests.conftest import database_url
from tests.operations.provider_server import SlowProvider
from tests.operations.stack import VENV_BIN, Stack
from tests.processing.media_factory import make_image, make_video

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(transactional_db, tmp_path, settings):
    """An empty stack on the test database and a Redis of its own; the test starts
    the processes it needs. Everything is stopped before the database is flushed."""
    redis = RedisServer(tmp_path / "redis", port=free_port()).start()
    storage = tmp_path / "storage"
    settings.STORAGE_ROOT = storage
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATABASE_URL": database_url(connection.settings_dict["NAME"]),
        "REDIS_URL": redis.url,
        "MEDIA_ANALYSIS_STORAGE_ROOT": str(storage),
        "LOG_FORMAT": "json",  # the production default
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "4",
        "API_THROTTLE_WRITE_RATE": "1000/min",
    }
    running = Stack(folder=tmp_path, env=env, redis=redis)
    yield running
    running.stop()


@pytest.fixture
def slow_provider():
    """An OpenAI-compatible provider that takes 6 s to answer."""
    server = SlowProvider(delay=6.0)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("ops") / "clip.mp4", seconds=4.0)


@pytest.fixture(scope="session")
def image(tmp_path_factory):
    return make_image(tmp_path_factory.mktemp("ops") / "photo.jpg", size=(640, 360))
