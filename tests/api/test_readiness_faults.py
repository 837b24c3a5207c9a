"""``/health/ready`` answers within 3 s whatever is down or hangs, measured against
gunicorn started as shipped, on a PostgreSQL and a Redis of the test's own.

Nothing here lowers a connection timeout: the pool's 30 s wait, libpq's 10 s
connect timeout and Redis's 5 s socket timeout are the defaults, and the readiness
deadline (HEALTH_READY_TIMEOUT, 2 s) alone keeps the answer under 3 s. Only the
breakers' reset timeouts are shortened, so recovery is seen within the test.

Run with ``-s`` to see the measured timings.
"""

from __future__ import annotations

import statistics
import time

import pytest

from tests.api.fault_servers import (
    Probe,
    burst,
    probe,
    probes,
    silent_port,
)
from tests.api.servers import start_gunicorn
from tests.conftest import run_manage, wait_until

pytestmark = pytest.mark.slow

LIMIT_SECONDS = 3.0
# Long enough for every worker's cached answer (HEALTH_READY_CACHE_SECONDS) to expire.
CACHE_EXPIRY = 2.2


def service_env(storage_root, database_url: str, redis_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MEDIA_ANALYSIS_STORAGE_ROOT": str(storage_root),
        # A nearly full disk of the test machine must not read as "degraded".
        "STORAGE_DISK_WARNING_PERCENT": "100",
        "STORAGE_DISK_CRITICAL_PERCENT": "100",
        "DB_BREAKER_RESET_TIMEOUT": "5",
        "REDIS_BREAKER_RESET_TIMEOUT": "2",
    }


@pytest.fixture
def service(tmp_path, storage_root, own_postgres, own_redis):
    env = service_env(storage_root, own_postgres.url, own_redis.url)
    run_manage("migrate", "-v", "0", env=env)
    server = start_gunicorn(tmp_path, env, workers=2, threads=4)
    first = wait_until(lambda: available(probe(server.url)), 30, "available at start")
    durations = {name: c["duration_ms"] for name, c in first.body["components"].items()}
    print(f"\nfirst available answer in {first.seconds:.2f} s, checks (ms): {durations}")
    yield server
    server.stop()


def available(answer: Probe) -> Probe | None:
    return answer if answer.body["level"] == "available" else None


def report(what: str, sequential: list[Probe], concurrent: list[Probe]) -> None:
    for label, answers in (("one after another", sequential), ("burst", concurrent)):
        seconds = [answer.seconds for answer in answers]
        evaluated = sum(not answer.body["cached"] for answer in answers)
        print(
            f"\n{what}, {len(answers)} probes {label}: max {max(seconds):.2f} s, "
            f"median {statistics.median(seconds):.2f} s, statuses "
            f"{sorted({a.status for a in answers})}, evaluated {evaluated}, "
            f"served from the cache {len(answers) - evaluated}"
        )
    slowest = max(sequential + concurrent, key=lambda answer: answer.seconds)
    durations = {name: c["duration_ms"] for name, c in slowest.body["components"].items()}
    print(f"{what}, slowest answer's checks (ms): {durations}")


def measure(url: str, what: str) -> list[Probe]:
    time.sleep(CACHE_EXPIRY)
    sequential = probes(url, 6)
    time.sleep(CACHE_EXPIRY)
    concurrent = burst(url, 24)
    report(what, sequential, concurrent)
    # Two workers, each evaluating once per cache period: the burst shares answers.
    assert sum(not answer.body["cached"] for answer in concurrent) <= 4
    return sequential + concurrent


def assert_each(answers: list[Probe], status: int, level: str) -> None:
    for answer in answers:
        assert answer.seconds < LIMIT_SECONDS, answer
        assert answer.status == status, answer
        assert answer.body["level"] == level, answer
        assert set(answer.body["components"]) == {
            "database",
            "migrations",
            "cache",
            "broker",
            "disk",
        }
        assert all("duration_ms" in c for c in answer.body["components"].values())


def test_postgresql_down_is_offline_within_3_s_then_available_again(service, own_postgres):
    own_postgres.stop()
    answers = measure(service.url, "PostgreSQL stopped")
    assert_each(answers, 503, "offline")
    for answer in answers:
        components = answer.body["components"]
        assert components["database"]["status"] == "error"
        assert components["cache"]["status"] == "ok"

    own_postgres.start()
    wait_until(lambda: probe(service.url).body["level"] == "available", 30, "available again")


def test_redis_down_is_degraded_within_3_s_then_available_again(service, own_redis):
    own_redis.stop()
    answers = measure(service.url, "Redis stopped")
    assert_each(answers, 200, "degraded")
    for answer in answers:
        components = answer.body["components"]
        assert components["cache"]["status"] == "error"
        assert components["database"]["status"] == "ok"

    own_redis.start()
    wait_until(lambda: probe(service.url).body["level"] == "available", 30, "available again")


@pytest.mark.parametrize("pool", ["true", "false"])
def test_a_postgresql_that_never_answers_is_offline_within_3_s(
    tmp_path, storage_root, own_redis, pool
):
    with silent_port() as port:
        env = {
            **service_env(storage_root, f"postgres://postgres@127.0.0.1:{port}/hangs", ""),
            "REDIS_URL": own_redis.url,
            "DB_POOL": pool,
        }
        server = start_gunicorn(tmp_path, env, workers=2, threads=4)
        try:
            answers = measure(server.url, f"PostgreSQL hanging (DB_POOL={pool})")
        finally:
            server.stop()
    assert_each(answers, 503, "offline")
    for answer in answers:
        assert answer.body["components"]["database"]["status"] == "error"
        assert answer.body["components"]["migrations"]["status"] != "ok"


def test_a_redis_that_never_answers_is_degraded_within_3_s(
    tmp_path, storage_root, own_postgres, own_redis
):
    run_manage("migrate", "-v", "0", env=service_env(storage_root, own_postgres.url, own_redis.url))
    with silent_port() as port:
        env = service_env(storage_root, own_postgres.url, f"redis://127.0.0.1:{port}/0")
        server = start_gunicorn(tmp_path, env, workers=2, threads=4)
        try:
            answers = measure(server.url, "Redis hanging")
        finally:
            server.stop()
    assert_each(answers, 200, "degraded")
    for answer in answers:
        components = answer.body["components"]
        assert components["database"]["status"] == "ok"
        assert components["cache"]["status"] == "error"
