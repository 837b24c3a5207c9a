"""A circuit breaker whose half-open state admits a bounded number of trial calls,
counted across every thread and process that shares the circuit.

States: **closed** counts consecutive failures (only exceptions the breaker's
predicate calls failures; anything else counts as a success, as a refused request
says nothing about a dependency's health) and opens after ``fail_max`` of them.
**open** refuses at once with :class:`BreakerOpen` (carrying the seconds until a
trial is allowed) until ``reset_timeout`` has passed. **half-open** lets at most
``max_trials`` trial calls be in flight at a time; everyone else is refused as if
open. ``success_threshold`` good trials close the circuit; one failed trial opens
it again (a new opening time, counters reset).

Why our own: the library used before admitted every caller while half-open, so a
recovering PostgreSQL got every thread of every process at once; and its breaker
objects over shared storage each reset the shared success counter when they
noticed a state change, so "close after N successes" was unreliable.

Design:

- A :class:`Breaker` holds no lock while the guarded call runs: one object serves
  every thread, and a slow call never queues the others.
- All state lives in a *store*, and every step (admit a caller, record a result)
  is one atomic operation on it, so there is no read-then-write race between
  threads or processes. :class:`RedisStore` runs each step as one Lua script (one
  clock, Redis's own, for every host); :class:`MemoryStore` runs the same rules
  in Python under a lock. The tests run both against the same cases.
- A trial call holds a *permit*: a random id in a sorted set, scored by its
  expiry (``permit_seconds``). A process killed mid-trial cannot give its permit
  back, so the permit frees itself when it expires. A permit that has expired or
  was dropped (the circuit reopened or closed meanwhile) no longer counts: its
  late success is ignored, and its failure only counts if the circuit is closed.
- :class:`FallbackStore` uses Redis while it answers and copies each answer into
  a :class:`MemoryStore`; when Redis cannot be reached it carries on in memory
  from the last state it saw (the trial cap then holds per process) and tries
  Redis again after ``retry_seconds``.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import redis

logger = logging.getLogger(__name__)

T = TypeVar("T")

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half-open"

# Store operations (also the Lua script's first argument).
ACQUIRE = "acquire"
SUCCESS = "success"
FAILURE = "failure"
RELEASE = "release"  # give a permit back without a verdict (the call was interrupted)
PEEK = "peek"  # read only

# A half-open circuit with every trial slot taken: trials are usually quick, so
# suggest a short wait rather than the whole reset timeout.
BUSY_RETRY_SECONDS = 1.0


class BreakerOpen(Exception):
    """The circuit refuses the call (open, or half-open with every trial slot taken)."""

    def __init__(self, name: str, retry_after: float, state: str = OPEN) -> None:
        super().__init__(f"circuit breaker {name} is {state}; try again in {retry_after:.1f}s")
        self.name = name
        self.retry_after = retry_after
        self.state = state


class StoreUnavailable(Exception):
    """The shared store cannot be used now (Redis down, refusing, or its breaker open)."""


@dataclass(frozen=True)
class BreakerConfig:
    fail_max: int
    reset_timeout: float
    success_threshold: int = 3
    max_trials: int = 3
    permit_seconds: float = 30.0


@dataclass(frozen=True)
class Outcome:
    """The circuit after one store operation. ``state`` is the stored state, except
    for PEEK, which reports an open circuit whose timeout has passed as half-open
    (the next caller would be a trial)."""

    state: str
    previous: str
    admitted: bool = False
    retry_after: float = 0.0
    failures: int = 0
    successes: int = 0
    opened_at: float | None = None
    trials: int = 0  # live trial permits
    permit: str | None = None  # set when ACQUIRE admitted a trial call


class Store(Protocol):
    shared: bool

    def apply(self, op: str, config: BreakerConfig, permit: str = "") -> Outcome: ...

    def closed_and_clean(self) -> bool:
        """A hint, read without a step: closed with no failure counted. Admitting a
        caller then changes nothing, and neither does its success."""
        ...

    def reset(self) -> None: ...


# ------------------------------------------------------------------ in process
@dataclass
class _Circuit:
    state: str = CLOSED
    failures: int = 0
    successes: int = 0
    opened_at: float | None = None
    permits: dict[str, float] = field(default_factory=dict)  # permit id -> expiry


class MemoryStore:
    """One circuit in this process's memory. Wall-clock time, so that a state
    copied from Redis (Redis's clock) keeps its meaning."""

    shared = False

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._circuit = _Circuit()

    def apply(self, op: str, config: BreakerConfig, permit: str = "") -> Outcome:
        with self._lock:
            return _step(self._circuit, op, config, permit, self._clock())

    def closed_and_clean(self) -> bool:
        circuit = self._circuit  # no lock: a stale answer costs one more call at most
        return circuit.state == CLOSED and circuit.failures == 0

    def adopt(self, outcome: Outcome) -> None:
        """Take over what the shared store said, so a Redis outage keeps it."""
        with self._lock:
            circuit = self._circuit
            if outcome.state != HALF_OPEN or circuit.state != HALF_OPEN:
                circuit.permits.clear()
            circuit.state = outcome.state
            circuit.failures = outcome.failures
            circuit.successes = outcome.successes
            circuit.opened_at = outcome.opened_at

    def reset(self) -> None:
        with self._lock:
            self._circuit = _Circuit()


def _step(c: _Circuit, op: str, config: BreakerConfig, permit: str, now: float) -> Outcome:
    """One operation on ``c``; the same rules as breaker.lua."""
    previous = c.state
    admitted, retry_after = False, 0.0
    if op == ACQUIRE:
        admitted, retry_after = _admit(c, config, permit, now)
    elif op in (SUCCESS, FAILURE, RELEASE):
        expiry = c.permits.pop(permit, None)
        held = expiry is not None and expiry > now
        if op == SUCCESS:
            _succeed(c, config, held)
        elif op == FAILURE:
            _fail(c, config, held, now)
    state = c.state
    if op == PEEK and state == OPEN:
        retry_after = max(0.0, (c.opened_at or 0.0) + config.reset_timeout - now)
        state = OPEN if retry_after > 0 else HALF_OPEN
    return Outcome(
        state=state,
        previous=previous,
        admitted=admitted,
        retry_after=retry_after,
        failures=c.failures,
        successes=c.successes,
        opened_at=c.opened_at,
        trials=sum(1 for expiry in c.permits.values() if expiry > now),
        permit=permit if admitted and c.state == HALF_OPEN else None,
    )


def _admit(c: _Circuit, config: BreakerConfig, permit: str, now: float) -> tuple[bool, float]:
    if c.state == OPEN:
        remaining = (c.opened_at or 0.0) + config.reset_timeout - now
        if remaining > 0:
            return False, remaining
        c.state, c.failures, c.successes = HALF_OPEN, 0, 0
        c.permits.clear()
    if c.state == HALF_OPEN:
        for expired in [p for p, expiry in c.permits.items() if expiry <= now]:
            del c.permits[expired]
        if len(c.permits) >= config.max_trials:
            return False, BUSY_RETRY_SECONDS
        c.permits[permit] = now + config.permit_seconds
    return True, 0.0


def _succeed(c: _Circuit, config: BreakerConfig, held: bool) -> None:
    if c.state == CLOSED:
        c.failures = 0
    elif c.state == HALF_OPEN and held:
        c.successes += 1
        if c.successes >= config.success_threshold:
            c.state, c.failures, c.successes, c.opened_at = CLOSED, 0, 0, None
            c.permits.clear()


def _fail(c: _Circuit, config: BreakerConfig, held: bool, now: float) -> None:
    if c.state == CLOSED:
        c.failures += 1
        if c.failures >= config.fail_max:
            _open(c, c.failures, now)
    elif c.state == HALF_OPEN and held:
        _open(c, 1, now)


def _open(c: _Circuit, failures: int, now: float) -> None:
    c.state, c.failures, c.successes, c.opened_at = OPEN, failures, 0, now
    c.permits.clear()


# ----------------------------------------------------------------------- Redis
# The Lua side of RedisStore: the same rules as _step, one atomic step per call.
_SCRIPT = (Path(__file__).with_name("breaker.lua")).read_text()
_SCRIPT_SHA = hashlib.sha1(_SCRIPT.encode(), usedforsecurity=False).hexdigest()

Executor = Callable[[Callable[[Any], Any]], Any]


class RedisStore:
    """One circuit in Redis under ``prefix``, shared by every process using it.

    ``execute(fn)`` runs ``fn(client)``; it lets the database breaker reach Redis
    through the Redis breaker (see :mod:`media_analysis.resilience`). Any Redis
    error becomes :class:`StoreUnavailable`.
    """

    shared = True

    def __init__(self, prefix: str, execute: Executor) -> None:
        self.prefix = prefix
        self.keys = (f"{prefix}:state", f"{prefix}:trials")
        self._execute = execute

    def closed_and_clean(self) -> bool:
        return False  # only a step, a round trip, can tell

    @classmethod
    def from_url(cls, url: str, prefix: str, *, timeout: float = 2.0) -> RedisStore:
        """A store with a client of its own (connects lazily, on first use)."""
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        return cls(prefix, execute=lambda fn: fn(client))

    def apply(self, op: str, config: BreakerConfig, permit: str = "") -> Outcome:
        args = (
            op,
            config.fail_max,
            repr(float(config.reset_timeout)),
            config.success_threshold,
            config.max_trials,
            repr(float(config.permit_seconds)),
            permit,
            repr(BUSY_RETRY_SECONDS),
        )
        reply = self._run(lambda client: _run_script(client, self.keys, args))
        return _parse(reply, permit)

    def reset(self) -> None:
        self._run(lambda client: client.delete(*self.keys))

    def _run(self, fn: Callable[[Any], T]) -> T:
        try:
            return self._execute(fn)
        except (redis.RedisError, OSError) as exc:
            raise StoreUnavailable(type(exc).__name__) from exc


def _run_script(client: Any, keys: tuple[str, str], args: tuple) -> list:
    try:
        return client.evalsha(_SCRIPT_SHA, len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:
        # First use on this server (or after SCRIPT FLUSH / a restart).
        return client.eval(_SCRIPT, len(keys), *keys, *args)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _parse(reply: list, permit: str) -> Outcome:
    state, previous, admitted, retry_after, failures, successes, opened_at, live, took = reply
    opened = _text(opened_at)
    return Outcome(
        state=_text(state),
        previous=_text(previous),
        admitted=bool(admitted),
        retry_after=float(_text(retry_after)),
        failures=int(failures),
        successes=int(successes),
        opened_at=float(opened) if opened else None,
        trials=int(live),
        permit=permit if took else None,
    )


class FallbackStore:
    """Redis while it answers, else this process's memory (starting from the last
    state Redis gave); Redis is tried again after ``retry_seconds``."""

    def __init__(self, primary: RedisStore, *, name: str, retry_seconds: float = 0.0) -> None:
        self.primary = primary
        self.memory = MemoryStore()
        self.name = name
        self.retry_seconds = retry_seconds
        self.shared = False  # until Redis has answered
        self._where: str | None = None  # "redis" or "memory" once known, for the logs
        self._retry_at = 0.0
        self._lock = threading.Lock()

    def closed_and_clean(self) -> bool:
        return False  # the shared state is in Redis: only a step can tell

    def apply(self, op: str, config: BreakerConfig, permit: str = "") -> Outcome:
        if time.monotonic() >= self._retry_at:
            try:
                outcome = self.primary.apply(op, config, permit)
            except StoreUnavailable as exc:
                self._moved("memory", exc)
            else:
                self._moved("redis")
                self.memory.adopt(outcome)
                return outcome
        return self.memory.apply(op, config, permit)

    def reset(self) -> None:
        self.memory.reset()
        # Nothing shared to reset while Redis is away.
        with contextlib.suppress(StoreUnavailable):
            self.primary.reset()

    def _moved(self, where: str, exc: StoreUnavailable | None = None) -> None:
        if exc is not None:
            self._retry_at = time.monotonic() + self.retry_seconds
        if where == self._where:
            return
        with self._lock:
            previous, self._where = self._where, where
            self.shared = where == "redis"
        if previous == where:
            return  # another thread logged it
        if exc is not None:
            logger.warning(
                "circuit breaker %s keeps its state in memory: Redis unreachable (%s)",
                self.name,
                exc,
                extra={"breaker": self.name},
            )
        elif previous is not None:
            logger.info("circuit breaker %s shares its state through Redis again", self.name)


# --------------------------------------------------------------------- breaker
# A permit id must be unique across every process sharing a circuit (hosts
# included): a random prefix per process, renewed in forked children, and a
# counter. Cheaper than uuid4(), whose os.urandom call every guarded call paid
# (a Redis round trip of the status poll included).
_permit_prefix = uuid.uuid4().hex[:16]
_permit_numbers = itertools.count()


def _renew_permit_prefix() -> None:
    global _permit_prefix
    _permit_prefix = uuid.uuid4().hex[:16]


os.register_at_fork(after_in_child=_renew_permit_prefix)


def _new_permit_id() -> str:
    return f"{_permit_prefix}-{next(_permit_numbers)}"


class Breaker:
    """Guards calls to one dependency. ``config`` is read on every call (settings
    may change at run time, in tests); ``is_failure`` says which exceptions count
    against the dependency: True a failure, False a success, None no verdict (the
    call says nothing about the dependency: a trial permit is given back)."""

    def __init__(
        self,
        name: str,
        store: Store,
        config: Callable[[], BreakerConfig],
        is_failure: Callable[[BaseException], bool | None],
    ) -> None:
        self.name = name
        self.store = store
        self._config = config
        self._is_failure = is_failure

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` if the circuit allows it, else :class:`BreakerOpen`.
        The call's own exception is always re-raised, the tripping one included."""
        if self.store.closed_and_clean():
            return self._call_while_healthy(fn, *args, **kwargs)
        config = self._config()
        ticket = self._apply(ACQUIRE, config, _new_permit_id())
        if not ticket.admitted:
            raise BreakerOpen(self.name, ticket.retry_after, ticket.state)
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            verdict = self._is_failure(exc)
            if verdict is not None:
                self._settle(ticket, config, failed=verdict)
            elif ticket.permit:
                self._apply(RELEASE, config, ticket.permit)
            raise
        except BaseException:
            # Interrupted (KeyboardInterrupt, SystemExit): no verdict, free the slot.
            if ticket.permit:
                self._apply(RELEASE, config, ticket.permit)
            raise
        self._settle(ticket, config, failed=False)
        return result

    def _call_while_healthy(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """What ``call`` does when admitting the caller and its success would change
        nothing (closed, no failure counted): no step before the call, and one only
        if it fails. The Redis breaker guards every Redis command, the status poll's
        included, and the steps cost it a twentieth of its CPU."""
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if self._is_failure(exc):
                self._apply(FAILURE, self._config())
            raise

    def snapshot(self) -> Outcome:
        return self._apply(PEEK, self._config())

    @property
    def state(self) -> str:
        """ "closed", "open" or "half-open" (an open circuit whose timeout is over)."""
        return self.snapshot().state

    def reset(self) -> None:
        """Close the circuit (shared state included)."""
        self.store.reset()

    def _settle(self, ticket: Outcome, config: BreakerConfig, *, failed: bool) -> None:
        if not failed and ticket.permit is None and ticket.state == CLOSED and not ticket.failures:
            return  # nothing to reset: spares a Redis round trip on every healthy call
        self._apply(FAILURE if failed else SUCCESS, config, ticket.permit or "")

    def _apply(self, op: str, config: BreakerConfig, permit: str = "") -> Outcome:
        outcome = self.store.apply(op, config, permit)
        if op != PEEK and outcome.state != outcome.previous:
            _log_state_change(self.name, outcome.previous, outcome.state)
        return outcome


def _log_state_change(name: str, old: str, new: str) -> None:
    log = logger.info if new == CLOSED else logger.warning
    log(
        "circuit breaker %s: %s -> %s",
        name,
        old,
        new,
        extra={"breaker": name, "breaker_state": new},
    )
