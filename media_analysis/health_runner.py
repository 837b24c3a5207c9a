"""The machinery behind ``/health/ready``: checks run concurrently under one
deadline, and one answer shared by every probe for a second or two.

- ``CheckRunner`` runs each check in a daemon thread of its own and waits for all
  of them until one deadline; a check that has not answered by then is reported
  as an error naming the timeout. A check still running from an earlier probe (a
  dependency that hangs) is waited for again rather than started twice, so a
  blackholed server costs one thread per check, never one per probe. Each thread
  closes the Django connections it opened.
- ``SingleFlight`` keeps the last answer for ``max_age`` seconds, in this process
  (not in Redis: Redis may be what is down). While one evaluation runs, other
  threads wait for it instead of starting their own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db import connections

T = TypeVar("T")


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], dict]
    # Name of a check that must answer "ok" first (started earlier in the list);
    # otherwise this one is skipped.
    after: str | None = None


def error(detail: str) -> dict:
    return {"status": "error", "detail": detail[:300]}


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class CheckRunner:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, tuple[Future, float]] = {}  # name -> (future, started)

    def run(self, checks: Sequence[Check], timeout: float) -> dict[str, dict]:
        """Each check's result (with ``duration_ms``), all within ``timeout`` seconds."""
        started = time.monotonic()
        deadline = started + timeout
        futures: dict[str, Future] = {}
        results: dict[str, dict] = {}
        for check in checks:
            if check.after in results:  # its dependency is still hanging: see below
                results[check.name] = {**_skipped(check, "did not answer"), "duration_ms": 0.0}
                continue
            future, since = self._start(check, futures.get(check.after or ""), deadline)
            if since <= started - timeout:
                # Still running from an earlier probe and past a deadline already:
                # say so now rather than make every probe wait for it again.
                results[check.name] = _still_running(since, timeout)
            else:
                futures[check.name] = future
        for name, future in futures.items():
            try:
                results[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                results[name] = {
                    **error(f"timed out: no answer within {timeout:g} s (HEALTH_READY_TIMEOUT)"),
                    "duration_ms": _ms_since(started),
                }
        return {check.name: results[check.name] for check in checks}

    def _start(
        self, check: Check, dependency: Future | None, deadline: float
    ) -> tuple[Future, float]:
        """A new run of ``check``, or the one still under way (and when it started)."""
        with self._lock:
            previous = self._running.get(check.name)
            if previous is not None and not previous[0].done():
                return previous
            future: Future = Future()
            since = time.monotonic()
            self._running[check.name] = (future, since)
        thread = threading.Thread(
            target=self._work,
            args=(check, dependency, deadline, future),
            name=f"health-{check.name}",
            daemon=True,  # a hung check must never keep a stopping worker alive
        )
        thread.start()
        return future, since

    @staticmethod
    def _work(check: Check, dependency: Future | None, deadline: float, future: Future) -> None:
        started = time.monotonic()
        try:
            result = _after(check, dependency, deadline) or check.run()
        except Exception as exc:  # each failure is reported, none stops the others
            result = error(describe(exc))
        finally:
            # This thread's own Django connections (back to the pool, if any).
            connections.close_all()
        result["duration_ms"] = _ms_since(started)
        future.set_result(result)


def _after(check: Check, dependency: Future | None, deadline: float) -> dict | None:
    """None when ``check`` may run now; else the result that says why it was skipped."""
    if dependency is None:
        return None
    try:
        outcome = dependency.result(timeout=max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        return _skipped(check, "did not answer")
    return None if outcome.get("status") == "ok" else _skipped(check, "failed")


def _still_running(since: float, timeout: float) -> dict:
    running = time.monotonic() - since
    detail = (
        f"timed out: still running after {running:.1f} s (HEALTH_READY_TIMEOUT is {timeout:g} s)"
    )
    return {**error(detail), "duration_ms": round(running * 1000, 1)}


def _skipped(check: Check, why: str) -> dict:
    return {"status": "skipped", "detail": f"not checked: the {check.after} check {why}"}


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


@dataclass
class Shared(Generic[T]):
    value: T
    age: float  # seconds since it was computed
    cached: bool  # computed by an earlier call (or by another thread meanwhile)


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._value: T | None = None
        self._computed_at = 0.0
        self._running = 0  # evaluations under way
        self._generation = 0  # bumped by each evaluation that produced a value

    def get(self, compute: Callable[[], T], max_age: float, wait: float) -> Shared[T]:
        """The answer of at most ``max_age`` seconds ago, or that of the evaluation
        running now (waited for up to ``wait`` seconds), or a new one computed here."""
        with self._cond:
            give_up_at = time.monotonic() + wait
            while True:
                fresh = self._fresh(max_age)
                if fresh is not None:
                    return fresh
                remaining = give_up_at - time.monotonic()
                if not self._running or remaining <= 0:
                    break  # nobody is evaluating, or it is late: evaluate here
                seen = self._generation
                self._cond.wait_for(
                    lambda seen=seen: self._generation != seen or not self._running,
                    timeout=remaining,
                )
                if self._generation != seen and self._value is not None:
                    # The answer we waited for, however old it is by now.
                    return Shared(self._value, time.monotonic() - self._computed_at, True)
            self._running += 1
        produced = False
        try:
            value = compute()
            produced = True
        finally:
            with self._cond:
                self._running -= 1
                if produced:
                    self._value, self._computed_at = value, time.monotonic()
                    self._generation += 1
                self._cond.notify_all()
        return Shared(value, 0.0, False)

    def _fresh(self, max_age: float) -> Shared[T] | None:
        if self._value is None:
            return None
        age = time.monotonic() - self._computed_at
        return Shared(self._value, age, True) if age < max_age else None

    def clear(self) -> None:
        with self._cond:
            self._value = None
