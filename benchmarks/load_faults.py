"""The fault half of the mixed load suite (issue 12): the service under load while
PostgreSQL is down, while Redis is killed, while a worker is SIGKILLed.

    flock /tmp/bench.lock .venv/bin/python benchmarks/load_faults.py \\
        [--scenario dos|redis-kill|worker-kill|all] [--seconds 20] [--outage 20]

The run owns its servers: a PostgreSQL from the machine's binaries
(``/usr/lib/postgresql/*/bin``, which have pg_trgm; pgserver's do not) and a
redis-server in temporary folders, stopped, killed and started again mid-run (never the machine's servers;
DATABASE_URL and REDIS_URL are not used). The service runs as shipped:
``gunicorn -c gunicorn.conf.py media_analysis.wsgi`` (production environment as
web_harness.production_env gives it, 2 workers x 8 threads, throttles on at rates
the run does not reach), and for the kill scenarios ``celery -A media_analysis
worker -l info`` and ``celery -A media_analysis beat -l info``.

**dos** - the breaker under a denial of service. About ``--rate`` requests a
second (1,000; 0 = as fast as the machine sends): wrk polls the status of cached
completed requests (``--write-rate`` of them, 100/s, are submissions from a paced
Python writer that keeps every answer). Phases: *before* (PostgreSQL up),
*outage* (PostgreSQL stopped), *recovery* and *after* (started again). Targets:
in the outage writes answer 503 with Retry-After, reads 200 from the cache, both
with p99 < 20 ms and no request over 1 s (nothing waits on a socket or pool
timeout); no 5xx but those 503s anywhere; a submission accepted (202) and
``/health/ready`` 200 within 30 s of PostgreSQL's return.

**redis-kill** and **worker-kill** - see ``fault_kills.py``.

Prints a table per phase and exits 1 when any target is missed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field

from fault_harness import (
    SUBMISSION,
    WEB_COMMAND,
    OwnPostgres,
    PacedWriter,
    Service,
    own_redis,
    run_paced_wrk,
    summarise,
    summarise_wrk,
)
from web_harness import (
    READ_RATE_NOT_REACHED,
    get,
    make_completed_requests,
    manage,
    production_env,
    wait_ready,
    workdir,
)

MAX_P99_MS = 20.0
MAX_ANY_MS = 1000.0  # well under any socket, connect or pool timeout the service has
RECOVERY_SECONDS = 30.0
COMPLETED_REQUESTS = 20


@dataclass
class Stack:
    """The run's servers, environment and processes; ``close`` stops them all."""

    folder: object
    postgres: OwnPostgres
    redis: object
    env: dict[str, str]
    port: int
    token: str = ""
    services: list[Service] = field(default_factory=list)

    def start(self, service: Service) -> Service:
        self.services.append(service.start())
        return service

    def close(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.redis.stop()
        self.postgres.cleanup()

    def logs(self) -> str:
        return "".join(service.text() for service in self.services)


def make_stack(prefix: str, port: int, **overrides: str) -> Stack:
    """Own PostgreSQL and Redis, a migrated database, a token; nothing started yet."""
    folder = workdir(prefix)
    postgres = OwnPostgres()
    redis = own_redis(folder)
    env = production_env(postgres.url, port, folder)
    env.update(
        REDIS_URL=redis.url,
        API_THROTTLE_WRITE_RATE=READ_RATE_NOT_REACHED,
        # Submissions name media on 127.0.0.1 (a port nothing answers on, or the
        # mix's media server): the address rule must let them through.
        MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS="true",
        **overrides,
    )
    stack = Stack(folder, postgres, redis, env, port)
    try:
        manage(env, "migrate", "-v", "0")
        stack.token = manage(env, "create_api_token", "bench").strip()
    except BaseException:
        stack.close()
        raise
    return stack


def start_web(stack: Stack) -> Service:
    web = stack.start(Service("web", WEB_COMMAND, stack.env, stack.folder / "web.log"))
    wait_ready(stack.port, "/health", web.popen)
    return web


def server_errors_in_log(text: str) -> list[str]:
    """Lines that say a request ended in a 500 or an unhandled exception."""
    return [
        line[:300]
        for line in text.splitlines()
        if "Internal Server Error" in line or "Traceback" in line
    ]


# ------------------------------------------------------------------------ dos
def calibrate(options, port: int, paths: list[str], headers) -> float:
    """The read rate to ask wrk for so that it sends about the target: wrk's pacing
    is a pause per connection on top of each answer's latency (a short trial run
    measures that latency)."""
    target = options.rate - options.write_rate
    if options.rate <= 0 or target <= 0:
        return 0.0
    connections = options.connections
    trial = run_paced_wrk(port, paths, 3, rate=target, connections=connections, headers=headers)
    pause = max(0.0, connections / target - 0.001)
    latency = max(0.0, connections / max(trial.rate, 1.0) - pause)
    corrected_pause = connections / target - latency
    if corrected_pause <= 0.001:
        return 0.0  # the machine cannot send this much: as fast as it can
    return connections / (corrected_pause + 0.001)


def recovery_probe(port: int, token: str, back: float, limit: float) -> dict[str, float | None]:
    """Seconds from ``back`` until a submission is accepted and /health/ready says 200."""
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    found: dict[str, float | None] = {"write_202": None, "ready_200": None}
    while time.monotonic() - back < limit + 15 and None in found.values():
        if found["write_202"] is None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.request("POST", "/api/media/analyze", SUBMISSION, headers)
                if connection.getresponse().status == 202:
                    found["write_202"] = time.monotonic() - back
            except OSError:
                pass
            finally:
                connection.close()
        if found["ready_200"] is None:
            try:
                if get(port, "/health/ready")[0] == 200:
                    found["ready_200"] = time.monotonic() - back
            except OSError:
                pass
        time.sleep(0.25)
    return found


def run_dos(options) -> list[str]:
    stack = make_stack("load-faults-dos-", options.port)
    failures: list[str] = []
    try:
        created = make_completed_requests(stack.env, COMPLETED_REQUESTS)
        paths = [f"/api/media/status/{request_id}" for request_id in created]
        headers = {"Authorization": f"Token {stack.token}"}
        web = start_web(stack)
        for path in paths + paths:  # the first poll of each fills the cache
            get(options.port, path, headers)
        source = get(options.port, paths[0], headers)[1].get("x-data-source")
        read_rate = calibrate(options, options.port, paths, headers)
        print(
            f"dos: gunicorn {stack.env['GUNICORN_WORKERS']} workers x"
            f" {stack.env['GUNICORN_THREADS']} threads; reads: wrk, {options.connections}"
            f" connections, paced at {read_rate:.0f}/s asked ({len(paths)} cached completed"
            f" requests, X-Data-Source {source}); writes: {options.write_rate:.0f}/s from"
            f" {options.writers} Python clients; {os.cpu_count()} CPUs; logs in {stack.folder}",
            flush=True,
        )
        load = {"rate": read_rate, "connections": options.connections, "headers": headers}
        marks: dict[str, float] = {}
        with PacedWriter(options.port, stack.token, options.write_rate, options.writers) as writer:
            marks["before"] = time.monotonic()
            reads_before = run_paced_wrk(options.port, paths, options.seconds, **load)
            marks["stop"] = time.monotonic()
            stack.postgres.stop()
            marks["outage"] = time.monotonic()
            reads_outage = run_paced_wrk(options.port, paths, options.outage, **load)
            outage_source = get(options.port, paths[0], headers)[1].get("x-data-source")
            stack.postgres.start()
            marks["back"] = time.monotonic()
            # Reads go on while the probe waits for recovery, and for --seconds after.
            after: dict[str, object] = {}
            span = max(options.seconds, RECOVERY_SECONDS + 5)
            reader = threading.Thread(
                target=lambda: after.update(run=run_paced_wrk(options.port, paths, span, **load))
            )
            reader.start()
            found = recovery_probe(options.port, stack.token, marks["back"], RECOVERY_SECONDS)
            reader.join()
            marks["end"] = time.monotonic()
        reads_after = after["run"]
        recovered = max((v for v in found.values() if v is not None), default=None)
        marks["recovered"] = marks["back"] + (recovered if recovered is not None else 0)
        web.stop()
        failures += report_dos(
            writer, marks, found, (reads_before, reads_outage, reads_after), outage_source
        )
        failures += [f"web log: {line}" for line in server_errors_in_log(web.text())[:5]]
    finally:
        stack.close()
    if not failures:
        shutil.rmtree(stack.folder, ignore_errors=True)
    return failures


def report_dos(writer, marks, found, reads, outage_source) -> list[str]:
    reads_before, reads_outage, reads_after = (summarise_wrk(run) for run in reads)
    windows = {
        "before": (marks["before"], marks["stop"]),
        "outage": (marks["stop"], marks["back"]),
        "recovery": (marks["back"], marks["recovered"]),
        "after": (marks["recovered"], marks["end"]),
    }
    writes = {
        name: summarise(writer.between(start, end), end - start)
        for name, (start, end) in windows.items()
    }
    print("\nphase      kind     (latencies in ms; statuses: code:count)")
    for name, read in (("before", reads_before), ("outage", reads_outage)):
        print(f"{name}")
        print(read.line("reads (wrk)"))
        print(writes[name].line("writes"))
        print(f"  {'all':<22} {read.rate + writes[name].rate:7.0f} req/s")
    print("recovery + after (reads: one wrk run over both)")
    print(reads_after.line("reads (wrk)"))
    print(writes["recovery"].line("writes, recovery"))
    print(writes["after"].line("writes, after"))
    print(
        f"PostgreSQL stopped in {marks['outage'] - marks['stop']:.1f} s; back:"
        f" first submission accepted after {found['write_202']} s,"
        f" /health/ready 200 after {found['ready_200']} s (target <= {RECOVERY_SECONDS:.0f} s)"
    )
    return dos_verdict(writer, marks, found, reads_outage, reads, writes, outage_source)


def dos_verdict(writer, marks, found, reads_outage, reads, writes, outage_source) -> list[str]:
    failures = []
    # From the moment PostgreSQL has stopped: writes during pg_ctl's shutdown may commit.
    outage_writes = writer.between(marks["outage"], marks["back"])
    wrong = [a for a in outage_writes if a.status != 503]
    if wrong:
        failures.append(f"outage: {len(wrong)} writes not 503 (e.g. {wrong[0]})")
    if any(a.status == 503 and not a.retry_after for a in writer.answers):
        failures.append("a 503 without Retry-After")
    outage = writes["outage"]
    if outage.p99 >= MAX_P99_MS:
        failures.append(f"outage writes p99 {outage.p99:.1f} ms (target < {MAX_P99_MS:.0f} ms)")
    if reads_outage.p99 >= MAX_P99_MS:
        failures.append(f"outage reads p99 {reads_outage.p99:.1f} ms (target < {MAX_P99_MS:.0f})")
    slow = max((a.seconds for a in writer.answers), default=0) * 1000
    if slow >= MAX_ANY_MS:
        failures.append(f"a write took {slow:.0f} ms: waited on a timeout (target < 1 s)")
    for run in reads:
        if run.non_2xx or run.socket_errors:
            failures.append(f"reads: {run.non_2xx} non-2xx, {run.socket_errors} socket errors")
        if run.errors.get("timeout") or run.percentile_ms(0.9995) >= MAX_ANY_MS:
            failures.append(f"a read took {run.percentile_ms(0.9995):.0f} ms (target < 1 s)")
    if outage_source != "cache":
        failures.append(f"outage read answered with X-Data-Source {outage_source}")
    bad = [a for a in writer.answers if (a.status >= 500 and a.status != 503) or a.status == 0]
    if bad:
        failures.append(f"{len(bad)} writes answered 5xx other than 503, or not at all: {bad[0]}")
    # Answered before the stop began: a write still in flight when pg_ctl starts its
    # shutdown may meet the dying server and answer 503, as it should.
    before_after = [
        a
        for a in writer.between(marks["before"], marks["stop"])
        if a.at + a.seconds < marks["stop"]
    ]
    before_after += writer.between(marks["recovered"], marks["end"])
    if any(a.status != 202 for a in before_after):
        failures.append("a write with PostgreSQL up (before, after recovery) not answered 202")
    for what, seconds in found.items():
        if seconds is None or seconds > RECOVERY_SECONDS:
            failures.append(f"recovery: {what} after {seconds} s (target <= {RECOVERY_SECONDS} s)")
    return failures


# ----------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=("dos", "redis-kill", "worker-kill", "all"))
    parser.add_argument("--seconds", type=float, default=20.0, help="dos: per phase; kills: load")
    parser.add_argument(
        "--outage", type=float, default=20.0, help="dos: seconds PostgreSQL is down"
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="dos: requests/s, 0 = max")
    parser.add_argument("--write-rate", type=float, default=100.0, help="dos: submissions/s")
    parser.add_argument("--writers", type=int, default=4, help="dos: writer threads")
    parser.add_argument("--connections", type=int, default=20, help="dos: wrk connections")
    parser.add_argument("--clients", type=int, default=50, help="kills: mix clients")
    parser.add_argument("--redis-down", type=float, default=15.0, help="redis-kill: seconds")
    parser.add_argument(
        "--requeue-seconds",
        type=int,
        default=60,
        help="kills: MEDIA_ANALYSIS_PENDING_REQUEUE_SECONDS",
    )
    parser.add_argument(
        "--terminal-timeout", type=float, default=300.0, help="kills: wait for terminal states"
    )
    parser.add_argument("--port", type=int, default=18961)
    options = parser.parse_args()
    options.scenario = options.scenario or "all"

    failures: list[str] = []
    if options.scenario in ("dos", "all"):
        failures += [f"dos: {f}" for f in run_dos(options)]
    if options.scenario in ("redis-kill", "worker-kill", "all"):
        from fault_kills import run_kill

        for kind in ("redis-kill", "worker-kill"):
            if options.scenario in (kind, "all"):
                failures += [f"{kind}: {f}" for f in run_kill(kind, options)]
    print(json.dumps({"targets_missed": failures}, indent=1) if failures else "all targets met")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
