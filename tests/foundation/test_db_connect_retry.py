"""The plan's database retry policy (3 retries, 0.5 s delay, backoff 2.0) for
establishing a connection: management commands, workers and beat retry; the web
(anything served through media_analysis/wsgi.py) never does.

The real cases run ``manage.py`` and gunicorn as child processes against a
PostgreSQL of the test's own, stopped and started again mid-run."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import psycopg
import pytest
from django.conf import settings
from django.db import connections

from media_analysis import db_backend
from media_analysis.db_backend import RetryPolicy, current_policy, with_retries
from media_analysis.db_backend.base import DatabaseWrapper
from media_analysis.embedded import RedisServer, free_port
from tests.api.fault_servers import OwnPostgres
from tests.api.servers import start_gunicorn
from tests.conftest import ROOT, run_manage

PLAN = RetryPolicy(retries=3, delay=0.5, backoff=2.0)
PASSWORD = "never-in-a-log-9f2c"
RETRY_LINE = re.compile(r"attempt (\d) of 4 failed .*retrying in (\d+\.\d) s")


# ------------------------------------------------------------------ the policy
def test_the_defaults_are_the_plans():
    assert current_policy() == PLAN
    assert PLAN.delays() == [0.5, 1.0, 2.0]
    assert settings.DATABASES["default"]["ENGINE"] == "media_analysis.db_backend"
    assert isinstance(connections["default"], DatabaseWrapper)


def test_each_retry_is_logged_with_its_attempt_and_delay(monkeypatch, caplog):
    sleeps: list[float] = []
    monkeypatch.setattr(db_backend.time, "sleep", sleeps.append)
    outcomes = iter([psycopg.OperationalError(f"refused for x:{PASSWORD}"), None])

    def connect() -> str:
        failure = next(outcomes)
        if failure:
            raise failure
        return "connected"

    with caplog.at_level(logging.WARNING, logger="media_analysis.db"):
        assert with_retries(connect, PLAN, (psycopg.OperationalError,), PASSWORD) == "connected"
    assert sleeps == [0.5]
    assert [r.getMessage() for r in caplog.records] == [
        "database connection attempt 1 of 4 failed (OperationalError: refused for x:***); "
        "retrying in 0.5 s"
    ]
    assert caplog.records[0].attempt == 1 and caplog.records[0].retry_delay == 0.5


def test_after_three_retries_the_error_is_raised(monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr(db_backend.time, "sleep", sleeps.append)
    attempts = []

    def refused() -> None:
        attempts.append(1)
        raise psycopg.OperationalError("refused")

    with pytest.raises(psycopg.OperationalError):
        with_retries(refused, PLAN, (psycopg.OperationalError,))
    assert len(attempts) == 4 and sleeps == [0.5, 1.0, 2.0]


def test_other_errors_are_not_retried(monkeypatch):
    monkeypatch.setattr(db_backend.time, "sleep", pytest.fail)
    with pytest.raises(psycopg.ProgrammingError):
        with_retries(
            lambda: (_ for _ in ()).throw(psycopg.ProgrammingError("bad option")),
            PLAN,
            (psycopg.OperationalError,),
        )


def test_a_process_that_turned_retries_off_never_retries(monkeypatch):
    monkeypatch.setattr(db_backend, "_retries_disabled", True)
    assert current_policy().retries == 0


def test_the_wsgi_entry_point_turns_retries_off():
    code = (
        "import media_analysis.wsgi; from media_analysis.db_backend import current_policy; "
        "print(current_policy().retries)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DB_CONNECT_RETRIES", "-1", "DB_CONNECT_RETRIES=-1 is below the minimum 0"),
        ("DB_CONNECT_RETRY_BACKOFF", "0.5", "DB_CONNECT_RETRY_BACKOFF=0.5 is below the minimum 1"),
    ],
)
def test_retry_settings_out_of_range_stop_start_up(variable, value, message):
    result = run_manage("check", env={variable: value}, check=False)
    assert result.returncode != 0
    assert message in result.stderr


# ------------------------------------------------------- against a real server
@dataclass
class Child:
    """A child process whose stderr lines are collected as they come, with the
    seconds since start at which each arrived."""

    process: subprocess.Popen
    started: float = field(default_factory=time.monotonic)
    lines: list[tuple[float, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append((time.monotonic() - self.started, line))

    def retries(self) -> list[tuple[float, int, float]]:
        """(seconds since start, attempt, delay) of each logged retry."""
        found = []
        for seconds, line in list(self.lines):
            match = RETRY_LINE.search(line)
            if match:
                found.append((seconds, int(match[1]), float(match[2])))
        return found

    def wait(self, timeout: float = 60) -> float:
        """The exit code; the seconds the child ran are in ``self.seconds``."""
        code = self.process.wait(timeout=timeout)
        self.seconds = time.monotonic() - self.started
        self._reader.join(timeout=5)
        return code

    def stderr(self) -> str:
        return "".join(line for _, line in self.lines)


def manage(*args: str, env: dict[str, str]) -> Child:
    return Child(
        subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    )


@pytest.fixture
def own_postgres():
    server = OwnPostgres(database="retries")
    # A password in the URL (trust auth ignores it) to prove it never reaches a log.
    server.url = server.url.replace("postgres:@", f"postgres:{PASSWORD}@")
    yield server
    server.cleanup()


@pytest.mark.slow
@pytest.mark.parametrize("pool", ["true", "false"])
def test_a_command_gives_up_after_three_retries_and_3_5_s_of_sleep(own_postgres, pool):
    own_postgres.stop()
    child = manage("showmigrations", env={"DATABASE_URL": own_postgres.url, "DB_POOL": pool})
    code = child.wait()
    retries = child.retries()
    first_retry_at = retries[0][0] if retries else child.seconds
    print(
        f"\nDB_POOL={pool}, server down: exit {code} after {child.seconds:.2f} s, "
        f"{child.seconds - first_retry_at:.2f} s from the first retry line to the exit, "
        f"retries {[(attempt, delay) for _, attempt, delay in retries]}"
    )
    assert code != 0
    assert [(attempt, delay) for _, attempt, delay in retries] == [(1, 0.5), (2, 1.0), (3, 2.0)]
    assert 3.5 <= child.seconds < 10
    assert child.seconds - first_retry_at >= 3.4  # 0.5 + 1 + 2 s asleep after it
    assert "OperationalError" in child.stderr()
    assert PASSWORD not in child.stderr()


@pytest.mark.slow
@pytest.mark.parametrize("pool", ["true", "false"])
def test_a_command_survives_a_server_that_comes_back_within_the_retries(own_postgres, pool):
    own_postgres.stop()
    child = manage("showmigrations", env={"DATABASE_URL": own_postgres.url, "DB_POOL": pool})
    deadline = time.monotonic() + 60
    while not child.retries() and child.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child.retries(), child.stderr()
    # The first attempt failed; the server is back about 1.5 s after it.
    time.sleep(1.3)
    own_postgres.start()
    back_at = time.monotonic() - child.started
    code = child.wait()
    retries = child.retries()
    print(
        f"\nDB_POOL={pool}, server back {back_at - retries[0][0]:.2f} s after the "
        f"first failed attempt: exit {code} after {child.seconds:.2f} s, "
        f"retries {[(attempt, delay) for _, attempt, delay in retries]}"
    )
    assert code == 0, child.stderr()
    assert 1 <= len(retries) <= 3
    assert PASSWORD not in child.stderr()


@pytest.mark.slow
def test_the_web_never_retries_a_connection(tmp_path, own_postgres):
    redis = RedisServer(tmp_path / "redis", port=free_port()).start()
    # Without the pool: the connection a request needs is Django's own, exactly
    # where a worker would retry.
    env = {
        "DATABASE_URL": own_postgres.url,
        "REDIS_URL": redis.url,
        "DB_POOL": "false",
        "MEDIA_ANALYSIS_STORAGE_ROOT": str(tmp_path / "storage"),
    }
    try:
        run_manage("migrate", "-v", "0", env=env)
        token = run_manage("create_api_token", "alice", env=env).stdout.strip()
        server = start_gunicorn(tmp_path, env, workers=1, threads=2)
        try:
            client = httpx.Client(
                base_url=server.url, headers={"Authorization": f"Token {token}"}, timeout=30
            )
            assert client.get(f"/api/media/status/{uuid.uuid4()}").status_code == 404
            own_postgres.stop()
            timings = []
            for _ in range(3):  # below the breaker's five: real connection attempts
                started = time.monotonic()
                response = client.get(f"/api/media/status/{uuid.uuid4()}")
                timings.append(time.monotonic() - started)
                assert response.status_code == 503
                assert response.json()["error"]["code"] == "database_unavailable"
            print(f"\nweb, PostgreSQL down: 503 in {[round(t, 3) for t in timings]} s")
            assert max(timings) < 1.0  # a retry would sleep 3.5 s
            assert "retrying in" not in server.log()
        finally:
            server.stop()
    finally:
        redis.stop()
