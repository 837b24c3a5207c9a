"""/health/ready in-process: one deadline over concurrent checks, hung checks not
started twice, one shared answer (single flight) cached for a second or two.
Measured against real servers in tests/api/test_readiness_faults.py."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connections
from django.test import Client

from media_analysis import health
from media_analysis.health_runner import Check, CheckRunner, SingleFlight


def counting(calls: Counter, name: str, result: dict | None = None, seconds: float = 0.0):
    def check() -> dict:
        calls[name] += 1
        time.sleep(seconds)
        return dict(result or {"status": "ok"})

    return check


def fake_checks(calls: Counter, seconds: float = 0.0) -> tuple[Check, ...]:
    components = [
        Check(name, counting(calls, name, seconds=seconds))
        for name in ("database", "migrations", "cache", "broker", "disk")
    ]
    breakers = Check("breakers", counting(calls, "breakers", {"status": "ok", "states": {}}))
    return (*components, breakers)


def in_threads(count: int, work) -> list:
    results: list = [None] * count
    start = threading.Barrier(count)

    def run(index: int) -> None:
        start.wait()
        results[index] = work()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


# ------------------------------------------------------------------ single flight
def test_twenty_threads_share_one_evaluation():
    flight: SingleFlight[int] = SingleFlight()
    calls = Counter()

    def evaluate() -> int:
        calls["evaluate"] += 1
        time.sleep(0.3)
        return 42

    answers = in_threads(20, lambda: flight.get(evaluate, max_age=2, wait=5))
    assert calls["evaluate"] == 1
    assert {answer.value for answer in answers} == {42}
    assert sum(not answer.cached for answer in answers) == 1


def test_the_answer_is_kept_for_max_age_then_evaluated_again():
    flight: SingleFlight[int] = SingleFlight()
    values = iter(range(10))
    first = flight.get(lambda: next(values), max_age=0.3, wait=1)
    again = flight.get(lambda: next(values), max_age=0.3, wait=1)
    assert (first.value, first.cached, again.value, again.cached) == (0, False, 0, True)
    time.sleep(0.35)
    later = flight.get(lambda: next(values), max_age=0.3, wait=1)
    assert (later.value, later.cached) == (1, False)


def test_a_failed_evaluation_leaves_the_next_caller_to_try_again():
    flight: SingleFlight[int] = SingleFlight()
    with pytest.raises(RuntimeError):
        flight.get(lambda: (_ for _ in ()).throw(RuntimeError("boom")), max_age=2, wait=1)
    assert flight.get(lambda: 7, max_age=2, wait=1).value == 7


# --------------------------------------------------------------------- the runner
def test_checks_run_concurrently_under_one_deadline():
    calls = Counter()
    started = time.monotonic()
    results = CheckRunner().run(
        [Check(name, counting(calls, name, seconds=0.3)) for name in "abcde"], timeout=2
    )
    assert time.monotonic() - started < 0.9  # five 0.3 s checks side by side
    assert all(result["status"] == "ok" for result in results.values())
    assert all(result["duration_ms"] >= 290 for result in results.values())


def test_a_hung_check_is_reported_as_timed_out_and_never_started_twice():
    release = threading.Event()
    calls = Counter()

    def hangs() -> dict:
        calls["hangs"] += 1
        release.wait(10)
        return {"status": "ok"}

    runner = CheckRunner()
    checks = [Check("hangs", hangs), Check("quick", counting(calls, "quick"))]
    try:
        started = time.monotonic()
        first = runner.run(checks, timeout=0.3)
        assert time.monotonic() - started < 0.6
        assert first["quick"]["status"] == "ok"
        assert first["hangs"]["status"] == "error"
        assert "timed out" in first["hangs"]["detail"] and "0.3 s" in first["hangs"]["detail"]
        # Later probes: answered at once, the same hung call, no new thread.
        for _ in range(3):
            started = time.monotonic()
            later = runner.run(checks, timeout=0.3)
            assert time.monotonic() - started < 0.2
            assert "still running" in later["hangs"]["detail"]
        assert calls == {"hangs": 1, "quick": 4}
    finally:
        release.set()
    time.sleep(0.05)
    assert runner.run(checks, timeout=0.3)["hangs"]["status"] == "ok"
    assert calls["hangs"] == 2


def test_a_dependent_check_is_skipped_when_its_dependency_fails():
    calls = Counter()
    results = CheckRunner().run(
        [
            Check("database", counting(calls, "database", {"status": "error", "detail": "x"})),
            Check("migrations", counting(calls, "migrations"), after="database"),
        ],
        timeout=1,
    )
    assert results["migrations"]["status"] == "skipped"
    assert "database" in results["migrations"]["detail"]
    assert "migrations" not in calls


def test_an_exception_is_reported_as_the_checks_error():
    def broken() -> dict:
        raise ConnectionError("refused")

    result = CheckRunner().run([Check("broken", broken)], timeout=1)["broken"]
    assert result["status"] == "error" and result["detail"] == "ConnectionError: refused"


@pytest.mark.django_db(transaction=True)
def test_a_check_thread_closes_the_django_connection_it_opened():
    opened = []

    def uses_the_database() -> dict:
        connection = connections["default"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        opened.append(connection)
        return {"status": "ok"}

    CheckRunner().run([Check("database", uses_the_database)], timeout=5)
    assert opened and opened[0] is not connections["default"]
    assert opened[0].connection is None


# ----------------------------------------------------------------------- the view
@pytest.fixture
def fake_readiness(monkeypatch):
    calls = Counter()
    monkeypatch.setattr(health, "READINESS_CHECKS", fake_checks(calls, seconds=0.3))
    health.clear_readiness_cache()
    yield calls
    health.clear_readiness_cache()


def test_twenty_concurrent_probes_run_the_checks_once(fake_readiness):
    responses = in_threads(20, lambda: Client().get("/health/ready"))
    assert {response.status_code for response in responses} == {200}
    assert set(fake_readiness.values()) == {1}  # every check ran exactly once
    bodies = [response.json() for response in responses]
    assert sum(not body["cached"] for body in bodies) == 1
    assert all(body["level"] == "available" for body in bodies)


def test_the_answer_says_whether_it_came_from_the_cache_and_its_age(fake_readiness, settings):
    settings.HEALTH_READY_CACHE_SECONDS = 0.5
    first = Client().get("/health/ready").json()
    second = Client().get("/health/ready").json()
    assert (first["cached"], second["cached"]) == (False, True)
    assert first["age_ms"] == 0 and 0 < second["age_ms"] < 500
    time.sleep(0.55)
    assert Client().get("/health/ready").json()["cached"] is False
    assert fake_readiness["database"] == 2


def test_a_hung_essential_check_answers_503_within_the_deadline(monkeypatch, settings):
    release = threading.Event()
    settings.HEALTH_READY_TIMEOUT = 0.5
    checks = {check.name: check for check in fake_checks(Counter())}
    checks["database"] = Check("database", lambda: {"status": "ok"} if release.wait(10) else {})
    monkeypatch.setattr(health, "READINESS_CHECKS", tuple(checks.values()))
    health.clear_readiness_cache()
    try:
        started = time.monotonic()
        response = Client().get("/health/ready")
        assert time.monotonic() - started < 1.0
    finally:
        release.set()
        health.clear_readiness_cache()
    body = response.json()
    assert response.status_code == 503 and body["level"] == "offline"
    assert "timed out" in body["components"]["database"]["detail"]
    assert body["components"]["migrations"]["status"] == "ok"  # not a dependent here


@pytest.mark.django_db
def test_a_good_migrations_check_is_trusted_for_a_while():
    health.clear_readiness_cache()
    assert health.check_migrations() == {"status": "ok"}
    assert health.check_migrations() == {"status": "ok", "cached": True}
    health.clear_readiness_cache()


@pytest.mark.django_db
def test_the_database_ping_gets_a_connection_within_its_own_timeout():
    health.ping_database(0.5)  # raises on failure
