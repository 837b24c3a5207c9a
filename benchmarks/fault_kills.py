"""The kill scenarios of ``load_faults.py``: the mixed load (``load_mix.run_mix``)
against gunicorn, a Celery worker and beat as shipped (``mix_stack.MixStack``, a
database of its own on DATABASE_URL's server), with Redis of the run's own.

- **redis-kill**: Redis (cache, throttles, breaker state and Celery's broker) is
  SIGKILLed a third into the run and started again ``--redis-down`` seconds later
  (append-only file, fsync every second, as the embedded dev Redis runs).
  Expected while it is down: status and history served from PostgreSQL,
  submissions 202 (their tasks wait in the outbox), readiness "degraded"; a 503
  with Retry-After is allowed, a 500 (or any other 5xx) is not.
- **worker-kill**: the worker and its pool children are SIGKILLed a third into the
  run, as a crashed container dies, and the same command starts again at once (a
  restart policy). Expected: no 5xx at all; the dead worker's analyses are taken
  over (heartbeat lease, beat's recovery) or redelivered (the outbox).

Either way every request answered 202 must reach a terminal state (completed,
failed, cancelled or deleted) exactly once (one result row at most), within
``--terminal-timeout`` seconds of the end of the load; the time from the fault to
the last one's terminal state is printed. A message the broker lost is sent again
by the outbox after ``MEDIA_ANALYSIS_PENDING_REQUEUE_SECONDS`` (600 s by default;
``--requeue-seconds``, 60, here, so a run takes minutes, not a quarter of an hour).

Not run on its own: ``load_faults.py --scenario redis-kill|worker-kill``.
"""

from __future__ import annotations

import shutil
import threading
import time

from fault_harness import kill_redis, own_redis
from load_mix import print_report, run_mix, timeline_rows, wait_terminal
from mix_stack import MixStack
from web_harness import get, kill_group, start_celery, wait_for_log, workdir

REDIS_KILL_ALLOWED = {503}  # with Retry-After (checked by MixReport.problems)


class Faults:
    """Runs the fault at its moment, in a thread beside the load, and remembers when."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}
        self.errors: list[str] = []

    def mark(self, name: str) -> None:
        self.marks[name] = time.monotonic()

    def run_after(self, delay: float, action) -> threading.Thread:
        def run() -> None:
            time.sleep(delay)
            try:
                action()
            except Exception as exc:  # reported, never lost in a thread
                self.errors.append(f"{type(exc).__name__}: {exc}")

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


def redis_kill(stack: MixStack, redis, faults: Faults, options) -> None:
    faults.mark("killed")
    kill_redis(redis)
    readiness = []
    deadline = time.monotonic() + options.redis_down
    while time.monotonic() < deadline:
        # What an orchestrator's readiness probe sees while Redis is gone.
        try:
            status, _, body = get(stack.port, "/health/ready")
            readiness.append((status, body[:200]))
        except OSError as exc:
            readiness.append((0, str(exc).encode()))
        time.sleep(1.0)
    redis.start()
    faults.mark("restarted")
    faults.marks["readiness_while_down"] = readiness  # type: ignore[assignment]


def worker_kill(stack: MixStack, faults: Faults) -> None:
    faults.mark("killed")
    kill_group(stack.processes["worker"])  # SIGKILL: the worker and its pool at once
    worker = start_celery(stack.env, stack.log("worker-2"), "worker")
    stack.processes["worker"] = worker
    faults.mark("restarted")
    wait_for_log(stack.log("worker-2"), " ready.", worker, timeout=120)
    faults.mark("ready")


def run_kill(kind: str, options) -> list[str]:
    """One kill scenario; the targets it missed."""
    name = "bench_" + kind.replace("-", "_")
    env = {"MEDIA_ANALYSIS_PENDING_REQUEUE_SECONDS": str(options.requeue_seconds)}
    folder = workdir(f"{name}-redis-")
    redis = own_redis(folder, persistent=True)
    failures: list[str] = []
    with MixStack(name, options.port + 10, REDIS_URL=redis.url, **env) as stack:
        try:
            stack.start_all()
            faults = Faults()
            at = options.seconds / 3
            if kind == "redis-kill":
                fault = faults.run_after(at, lambda: redis_kill(stack, redis, faults, options))
            else:
                fault = faults.run_after(at, lambda: worker_kill(stack, faults))
            print(
                f"\n{kind}: {options.clients} clients for {options.seconds:g} s, the fault at"
                f" {at:.0f} s; logs in {stack.folder}",
                flush=True,
            )
            began = time.monotonic()
            report = run_mix(
                stack.url,
                stack.token,
                clients=options.clients,
                seconds=options.seconds,
                targets=stack.targets,
                label=kind,
            )
            fault.join(timeout=180)
            load_ended = time.monotonic()
            check = wait_terminal(report, stack.database.url, timeout=options.terminal_timeout)
            settled = time.monotonic()
            failures += faults.errors
            failures += report_kill(kind, report, faults, check, began, load_ended, settled)
            failures += unexpected_tracebacks(stack)
        finally:
            redis.stop()
    shutil.rmtree(folder, ignore_errors=True)
    return failures


# Celery logs (at CRITICAL, with a traceback) the ack it could not send when the
# broker died under it: expected here; the message is redelivered and the run
# that finds its request already claimed skips it (counted in the terminal check).
EXPECTED_TRACEBACKS = ("Couldn't ack",)


def unexpected_tracebacks(stack: MixStack) -> list[str]:
    found = []
    for path in sorted(stack.folder.glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if "Traceback" in line and not any(e in line for e in EXPECTED_TRACEBACKS):
                found.append(f"traceback in {path.name}: {line[:300]}")
                break
    return found


def report_kill(kind, report, faults, check, began, load_ended, settled) -> list[str]:
    print_report(report)
    print("timeline (5 s rows):")
    for row in timeline_rows(report, every=5):
        print(f"  {row}")
    marks = faults.marks
    killed = marks.get("killed")
    if killed is None:
        return ["the fault never ran"]
    restarted = marks.get("restarted", killed)
    print(
        f"{kind}: killed at {killed - began:.1f} s into the load, started again"
        f" {restarted - killed:.1f} s later"
        + (
            f", worker ready {marks['ready'] - killed:.1f} s after the kill"
            if "ready" in marks
            else ""
        )
    )
    if kind == "redis-kill":
        seen = marks.get("readiness_while_down") or []
        codes = sorted({status for status, _ in seen})
        print(f"  /health/ready while Redis was down: {codes} ({len(seen)} probes)")
    print(
        f"  accepted (202): {check.accepted}; terminal: {check.by_state}; not terminal:"
        f" {check.not_terminal_count}; missing: {check.missing}; with two results: {check.doubled}"
    )
    print(
        f"  all accepted requests terminal {settled - killed:.1f} s after the kill"
        f" ({settled - load_ended:.1f} s after the load ended)"
    )
    failures = report.problems(allow_503=kind == "redis-kill")
    codes = {code for stats in report.kinds.values() for code in stats.statuses}
    unexpected = {c for c in codes if c >= 500 and c not in REDIS_KILL_ALLOWED}
    if kind == "worker-kill" and 503 in codes:
        unexpected.add(503)  # the web never depended on the worker
    if unexpected:
        failures.append(f"unexpected 5xx answers: {sorted(unexpected)}")
    if not check.accepted:
        failures.append("no request was accepted")
    return failures
