"""Shared fixtures. Tests run against real PostgreSQL and Redis: the embedded ones
that ``python3 dev.py test`` starts, or the servers DATABASE_URL / REDIS_URL name."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

pytest_plugins = ("celery.contrib.pytest",)

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    # WhiteNoise warns on every request when the static folder does not exist yet.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


def database_url(name: str) -> str:
    """A DATABASE_URL for database ``name`` on the server the tests use."""
    db = settings.DATABASES["default"]
    host = db["HOST"]
    credentials = quote(db["USER"]) + (":" + quote(db["PASSWORD"]) if db["PASSWORD"] else "")
    if host.startswith("/"):
        return f"postgresql://{credentials}@/{name}?host={quote(host)}"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{credentials}@{host}{port}/{name}"


def run_manage(
    *args: str, env: dict | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run manage.py in a child process with the test environment (plus ``env``)."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
    return result


def wait_until(check, timeout: float, what: str, every: float = 0.25):
    """Poll ``check`` until it returns something true (returned); fail after ``timeout``
    seconds naming ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"not within {timeout} s: {what}")


def force_status(request_id, status: str, **fields) -> None:
    """Put an analysis request in ``status`` for a test's set-up (a worker that died
    mid-way, a row in an odd state), bypassing the transition table on purpose: in
    the product, ``analysis.transitions.move`` is the only way to change it."""
    from analysis.models import AnalysisRequest, status_writes_allowed

    with status_writes_allowed():
        AnalysisRequest.objects.filter(pk=request_id).update(status=status, **fields)


SCRAPE_TOKEN = "test-scrape-token"
# What a Prometheus scraper sends on /metrics (settings.METRICS_TOKEN, set below).
SCRAPE = {"HTTP_AUTHORIZATION": f"Bearer {SCRAPE_TOKEN}"}


@pytest.fixture(autouse=True)
def _closed_breakers():
    """Every test starts with closed circuit breakers: one left open by a test that
    stopped its Redis would otherwise hold back the next test's publishes."""
    from media_analysis.resilience import reset_breakers

    reset_breakers()


@pytest.fixture(autouse=True)
def _metrics_token(settings):
    settings.METRICS_TOKEN = SCRAPE_TOKEN


@pytest.fixture(scope="session")
def celery_app():
    """The project's own Celery app for ``celery_worker`` (celery.contrib.pytest):
    a real worker thread consuming from the test Redis."""
    from media_analysis.celery import app

    return app


@pytest.fixture(scope="session")
def celery_worker_parameters():
    # The test worker would otherwise set the root logger to ERROR for the rest
    # of the session, silencing log-based assertions in later tests.
    return {
        "queues": ("media.heavy", "media.light", "media", "default", "maintenance"),
        "perform_ping_check": False,
        "loglevel": "INFO",
    }


@pytest.fixture
def storage_root(tmp_path, settings) -> Path:
    """``STORAGE_ROOT`` for one test: an empty folder of its own, already there (as
    an installed service's is), given resolved (as ``storage_app.layout`` compares
    paths)."""
    root = (tmp_path / "storage").resolve()
    root.mkdir()
    settings.STORAGE_ROOT = root
    return root


def server_connection():
    """An autocommit connection to the test server's maintenance database, for
    statements that cannot run in a transaction (CREATE / DROP DATABASE)."""
    import psycopg

    db = settings.DATABASES["default"]
    return psycopg.connect(
        dbname="postgres",
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        autocommit=True,
    )


@pytest.fixture
def scratch_database():
    """An empty database of its own, dropped afterwards (for migrate-from-zero tests)."""
    name = f"{connection.settings_dict['NAME']}_scratch"
    with server_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with server_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
