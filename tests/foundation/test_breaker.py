"""The circuit breaker itself (media_analysis/breaker.py), against real Redis.

Most cases run twice: on the Redis store (the Lua script) and on the in-process
store (the same rules in Python). The trial cap is checked with many threads and
with several real OS processes sharing one circuit; a permit whose process was
killed must free itself; with Redis stopped (this test's own redis-server, never
the machine's) the breaker carries on in memory from what it last saw.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import redis

from media_analysis.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    Breaker,
    BreakerConfig,
    BreakerOpen,
    FallbackStore,
    MemoryStore,
    RedisStore,
)
from media_analysis.embedded import RedisServer, free_port
from tests.conftest import ROOT, run_manage


class Down(Exception):
    """What the guarded dependency raises when it is down (a "system error")."""


def config(**overrides) -> BreakerConfig:
    values = {
        "fail_max": 3,
        "reset_timeout": 0.2,
        "success_threshold": 3,
        "max_trials": 3,
        "permit_seconds": 30.0,
    }
    return BreakerConfig(**{**values, **overrides})


def breaker_on(store, **overrides) -> Breaker:
    fixed = config(**overrides)
    return Breaker("test", store, lambda: fixed, lambda exc: isinstance(exc, Down))


def fail(breaker: Breaker, times: int = 1) -> None:
    def down() -> None:
        raise Down

    for _ in range(times):
        with pytest.raises(Down):
            breaker.call(down)


def ok() -> str:
    return "ok"


@pytest.fixture
def prefix(settings):
    """Keys of this test's own in the test Redis, removed afterwards."""
    name = f"test-breaker-unit:{uuid.uuid4().hex}"
    yield name
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(f"{name}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["redis", "memory"])
def store(request, prefix, settings):
    if request.param == "memory":
        return MemoryStore()
    return RedisStore.from_url(settings.REDIS_URL, prefix)


def tripped(store, **overrides) -> Breaker:
    """A breaker on ``store`` that has just opened; half-open after 0.2 s."""
    breaker = breaker_on(store, **overrides)
    fail(breaker, breaker._config().fail_max)
    assert breaker.snapshot().state == OPEN
    return breaker


def half_open(store, **overrides) -> Breaker:
    breaker = tripped(store, **overrides)
    time.sleep(0.25)
    return breaker


# ---------------------------------------------------------------- the rules
def test_opens_after_fail_max_consecutive_failures_then_refuses_at_once(store):
    breaker = breaker_on(store, reset_timeout=30)
    calls = []
    fail(breaker, 2)
    assert breaker.call(ok) == "ok"  # a success resets the count
    fail(breaker, 2)
    assert breaker.state == CLOSED
    fail(breaker, 1)
    assert breaker.state == OPEN

    with pytest.raises(BreakerOpen) as refused:
        breaker.call(calls.append, 1)
    assert calls == []
    assert 29 < refused.value.retry_after <= 30


def test_exceptions_that_are_not_failures_count_as_successes(store):
    breaker = breaker_on(store)

    def refused_request() -> None:
        raise ValueError("bad input")

    for _ in range(3):
        fail(breaker, 2)
        with pytest.raises(ValueError):
            breaker.call(refused_request)
    assert breaker.state == CLOSED
    assert breaker.snapshot().failures == 0


def test_half_open_closes_after_three_successful_trials(store):
    breaker = half_open(store)
    assert breaker.state == HALF_OPEN  # the timeout is over: the next caller is a trial

    breaker.call(ok)
    breaker.call(ok)
    assert breaker.snapshot().state == HALF_OPEN
    assert breaker.snapshot().successes == 2
    breaker.call(ok)
    assert breaker.snapshot().state == CLOSED
    fail(breaker, 2)  # closed again: counting from zero
    assert breaker.state == CLOSED


def test_a_failed_trial_opens_it_again_with_a_new_opening_time(store):
    breaker = half_open(store, reset_timeout=0.2)
    first_opened = breaker.snapshot().opened_at
    breaker.call(ok)
    breaker.call(ok)
    fail(breaker)

    after = breaker.snapshot()
    assert after.state == OPEN
    assert after.opened_at > first_opened
    assert after.successes == 0
    with pytest.raises(BreakerOpen):
        breaker.call(ok)


def test_a_late_result_of_a_dropped_trial_does_not_count(store):
    """A trial still running when another one reopens the circuit: its success
    must not count towards closing the next round."""
    breaker = half_open(store)
    started, finish = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        finish.wait(5)
        return "late"

    late = threading.Thread(target=breaker.call, args=(slow,))
    late.start()
    assert started.wait(5)
    fail(breaker)  # another trial fails: open again, permits dropped
    finish.set()
    late.join(5)

    after = breaker.snapshot()
    assert after.state == OPEN and after.successes == 0 and after.trials == 0


def test_an_interrupted_trial_gives_its_permit_back(store):
    breaker = half_open(store, max_trials=1)

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        breaker.call(interrupted)
    assert breaker.snapshot().trials == 0
    assert breaker.call(ok) == "ok"  # the single slot is free again


def test_at_most_three_trials_run_at_a_time_across_32_threads(store):
    breaker = half_open(store, success_threshold=1000)  # stays half-open throughout
    peak, admitted, refusals = run_concurrently(breaker, callers=32, hold=1.0)

    assert peak == 3
    assert admitted + len(refusals) == 32
    assert len(refusals) >= 16
    assert max(refusals) < 0.5  # refused at once, not after waiting for a trial
    assert breaker.snapshot().trials == 0  # every permit given back


def test_the_trial_cap_follows_the_configured_number(store):
    breaker = half_open(store, success_threshold=1000, max_trials=5)
    peak, _, _ = run_concurrently(breaker, callers=16, hold=1.0)
    assert peak == 5


def run_concurrently(breaker: Breaker, *, callers: int, hold: float):
    """``callers`` threads call ``breaker`` at once with a slow function; returns
    the most executions seen at the same time, the admitted count and how long
    each refusal took."""
    lock = threading.Lock()
    running = peak = admitted = 0
    refusals: list[float] = []
    barrier = threading.Barrier(callers)

    def trial() -> None:
        nonlocal running, peak, admitted
        with lock:
            running += 1
            admitted += 1
            peak = max(peak, running)
        time.sleep(hold)
        with lock:
            running -= 1

    def caller() -> None:
        barrier.wait()
        started = time.monotonic()
        try:
            breaker.call(trial)
        except BreakerOpen:
            with lock:
                refusals.append(time.monotonic() - started)

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return peak, admitted, refusals


def test_separate_breaker_objects_share_one_success_count(prefix, settings):
    """Two processes' breakers over one circuit: three successes in total close it
    (the former library's per-object bookkeeping reset the shared counter)."""
    first = half_open(RedisStore.from_url(settings.REDIS_URL, prefix))
    second = breaker_on(RedisStore.from_url(settings.REDIS_URL, prefix))

    first.call(ok)
    second.call(ok)
    assert first.snapshot().successes == 2
    first.call(ok)
    assert second.state == CLOSED


# ------------------------------------------------------- real OS processes
CHILD = """
import json, sys, threading, time
import django
django.setup()
import redis
from django.conf import settings
from media_analysis.breaker import Breaker, BreakerConfig, BreakerOpen, RedisStore

prefix, mode, count, hold = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
config = BreakerConfig(
    fail_max=1,
    reset_timeout=0.2,
    success_threshold=1000,
    max_trials=settings.BREAKER_HALF_OPEN_MAX_TRIALS,
    permit_seconds=settings.BREAKER_TRIAL_PERMIT_SECONDS,
)
breaker = Breaker("cap", RedisStore.from_url(settings.REDIS_URL, prefix), lambda: config, lambda e: True)
client = redis.Redis.from_url(settings.REDIS_URL)

if mode == "hold":  # take a trial permit and never give it back
    def hang():
        print("holding", flush=True)
        time.sleep(600)
    breaker.call(hang)

client.incr(prefix + ":ready")
while not client.exists(prefix + ":go"):
    time.sleep(0.005)
peaks, refusals = [], []

def trial():
    peaks.append(client.incr(prefix + ":running"))  # trials running right now, everywhere
    time.sleep(hold)
    client.decr(prefix + ":running")

def caller():
    started = time.monotonic()
    try:
        breaker.call(trial)
    except BreakerOpen:
        refusals.append(time.monotonic() - started)

threads = [threading.Thread(target=caller) for _ in range(count)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"peaks": peaks, "refusals": refusals}))
"""


def child_env(settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "media_analysis.settings",
        "REDIS_URL": settings.REDIS_URL,
        "LOG_LEVEL": "error",
        **extra,
    }


def spawn(prefix: str, mode: str, count: int, hold: float, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, prefix, mode, str(count), str(hold)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_at_most_three_trials_run_at_a_time_across_processes(prefix, settings):
    client = redis.Redis.from_url(settings.REDIS_URL)
    half_open(RedisStore.from_url(settings.REDIS_URL, prefix), fail_max=1)
    env = child_env(settings, BREAKER_HALF_OPEN_MAX_TRIALS="3")
    children = [spawn(prefix, "call", 8, 1.0, env) for _ in range(4)]
    deadline = time.monotonic() + 60
    while int(client.get(f"{prefix}:ready") or 0) < len(children):
        assert time.monotonic() < deadline, "children did not start"
        assert all(child.poll() is None for child in children), children[0].communicate()
        time.sleep(0.05)
    client.set(f"{prefix}:go", 1)  # every thread of every process starts now

    reports = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    client.close()
    peaks = [peak for report in reports for peak in report["peaks"]]
    refusals = [seconds for report in reports for seconds in report["refusals"]]

    assert max(peaks) == 3
    assert len(peaks) + len(refusals) == 32
    assert len(refusals) >= 16
    assert max(refusals) < 0.5
    assert sum(1 for report in reports if report["refusals"]) >= 2  # refused in several processes


@pytest.mark.slow
def test_the_permit_of_a_killed_process_frees_itself(prefix, settings):
    permit_seconds = 4.0
    store = RedisStore.from_url(settings.REDIS_URL, prefix)
    breaker = half_open(
        store, fail_max=1, max_trials=1, success_threshold=1, permit_seconds=permit_seconds
    )
    env = child_env(
        settings, BREAKER_HALF_OPEN_MAX_TRIALS="1", BREAKER_TRIAL_PERMIT_SECONDS=str(permit_seconds)
    )
    child = spawn(prefix, "hold", 0, 0, env)
    try:
        assert child.stdout.readline().strip() == "holding", child.stderr.read()
        held_at = time.monotonic()
        with pytest.raises(BreakerOpen):
            breaker.call(ok)  # the only trial slot is the child's
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=10)
    assert breaker.snapshot().trials == 1  # dying gave nothing back

    while True:
        try:
            breaker.call(ok)
            break
        except BreakerOpen:
            assert time.monotonic() - held_at < permit_seconds + 5, "the permit never expired"
            time.sleep(0.1)
    assert time.monotonic() - held_at >= permit_seconds - 1  # freed by its expiry
    assert breaker.state == CLOSED


# ------------------------------------------------------------- Redis stopped
def test_with_redis_stopped_the_breaker_carries_on_in_memory(tmp_path, prefix, caplog):
    server = RedisServer(tmp_path / "redis", port=free_port()).start()
    try:
        store = FallbackStore(
            RedisStore.from_url(server.url, prefix, timeout=1), name="test", retry_seconds=0.5
        )
        breaker = breaker_on(store, fail_max=2, reset_timeout=30)
        fail(breaker)  # one failure, counted in Redis
        assert store.shared is True
        shared = redis.Redis.from_url(server.url)
        assert shared.hget(f"{prefix}:state", "failures") == b"1"
        shared.close()

        server.stop()
        fail(breaker)  # the second: memory carried the first over, so it opens
        assert store.shared is False
        assert "keeps its state in memory" in caplog.text
        started = time.monotonic()
        for _ in range(20):
            with pytest.raises(BreakerOpen):
                breaker.call(ok)
        assert time.monotonic() - started < 0.5  # no Redis attempt per call
        assert breaker.state == OPEN

        server.start()  # an empty Redis, as after a restart
        time.sleep(0.6)  # retry_seconds
        assert breaker.state == CLOSED  # Redis is the shared truth again
        assert store.shared is True
    finally:
        server.stop()


# ------------------------------------------------------------------ settings
@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BREAKER_HALF_OPEN_MAX_TRIALS", "0", "is below the minimum 1"),
        ("BREAKER_HALF_OPEN_MAX_TRIALS", "three", "is not an integer"),
        ("BREAKER_TRIAL_PERMIT_SECONDS", "0.5", "is below the minimum 1"),
        ("BREAKER_TRIAL_PERMIT_SECONDS", "soon", "is not a number"),
    ],
)
def test_junk_breaker_settings_stop_start_up(variable, value, message):
    result = run_manage("check", env={variable: value}, check=False)
    assert result.returncode != 0
    assert variable in result.stderr and message in result.stderr


# ------------------------------------------------- the healthy in-memory shortcut
class CountingStore(MemoryStore):
    """The in-process store, counting its steps."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[str] = []

    def apply(self, op, config, permit=""):
        self.steps.append(op)
        return super().apply(op, config, permit)


def test_a_healthy_in_memory_circuit_takes_no_step_for_a_success():
    store = CountingStore()
    breaker = breaker_on(store)
    assert [breaker.call(ok) for _ in range(5)] == ["ok"] * 5
    assert store.steps == []


def test_failures_still_open_a_circuit_that_was_healthy():
    store = CountingStore()
    breaker = breaker_on(store)
    fail(breaker, 3)
    assert breaker.state == OPEN
    with pytest.raises(BreakerOpen):
        breaker.call(ok)


def test_an_error_that_is_not_a_failure_counts_nothing_on_the_shortcut():
    store = CountingStore()
    breaker = breaker_on(store)

    def refused() -> None:
        raise ValueError("a refused request says nothing about health")

    with pytest.raises(ValueError):
        breaker.call(refused)
    assert store.steps == []
    assert breaker.snapshot().failures == 0


def test_after_one_failure_each_call_steps_until_the_count_is_reset():
    store = CountingStore()
    breaker = breaker_on(store)
    fail(breaker)
    store.steps.clear()
    assert breaker.call(ok) == "ok"  # admitted, then its success resets the count
    assert store.steps == ["acquire", "success"]
    assert breaker.snapshot().failures == 0
    store.steps.clear()
    breaker.call(ok)
    assert store.steps == []
