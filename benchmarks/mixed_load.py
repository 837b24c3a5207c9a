"""Issue 12's mixed load against the whole service, and the same load with the
database pool squeezed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/10 \\
        flock /tmp/bench.lock .venv/bin/python benchmarks/mixed_load.py \\
        [--scenario mix|saturation|all] [--seconds 300] [--clients 100]

What it does (``mix_stack.py`` starts everything as shipped: gunicorn with
``gunicorn.conf.py``, a Celery worker and beat, a database of its own on
DATABASE_URL's server, REDIS_URL's database flushed; ``load_mix.py`` is the load):

- ``mix``: ``--clients`` clients for ``--seconds`` (default 100 for 5 minutes): 70 %
  status polls, 15 % history pages, 10 % submissions (uploads of a real JPEG, WAV
  and MP4, and URLs on a local server), 5 % retries, cancels and deletes. Prints
  req/s and p50/p95/p99 per kind, errors by status, the status cache's hit rate
  (X-Data-Source and /metrics), the peak of PostgreSQL connections, and where
  every request acknowledged with 202 ended. Targets: no 5xx at all, no transport
  error, every 202 terminal (completed, failed, cancelled or deleted) with at most
  one result row.
- ``saturation``: the web with ``DB_POOL_MAX_SIZE=2`` and ``DB_POOL_TIMEOUT=1``
  (2 connections for 8 threads per worker). A light phase (``--light-clients``)
  as the baseline, the heavy mix, the light phase again. Targets: no 5xx but 503,
  every 503 with Retry-After and the code ``database_busy`` (a pool wait, not an
  outage), the database breaker never opened (the web log has no
  ``circuit breaker database`` change), and the light phase after the heavy one
  as fast as before it: no 503, req/s at least 80 %, p95 at most 1.5 x (+5 ms).

Exit status 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from load_mix import MixReport, print_report, run_mix, timeline_rows, wait_terminal
from mix_stack import MixStack

# The squeezed pool: 2 connections per web process, a 1-second wait (the setting's
# minimum) before a request is answered 503.
SQUEEZED_POOL = {"DB_POOL_MAX_SIZE": "2", "DB_POOL_MIN_SIZE": "2", "DB_POOL_TIMEOUT": "1"}
RECOVERED_RATE = 0.80
RECOVERED_P95_FACTOR = 1.5
RECOVERED_P95_SLACK_MS = 5.0
TERMINAL_TIMEOUT = 600.0


def mix_run(stack: MixStack, label: str, clients: int, seconds: float) -> MixReport:
    report = run_mix(
        stack.url,
        stack.token,
        clients=clients,
        seconds=seconds,
        targets=stack.targets,
        label=label,
        connections=stack.database.connections,
        metrics_token=stack.metrics_token,
    )
    return report


def warm_up(stack: MixStack) -> None:
    """Every worker imports, connects and fills its caches before anything counts."""
    run_mix(stack.url, stack.token, clients=20, seconds=5, targets=stack.targets, label="warm-up")


def scenario_mix(options) -> list[str]:
    with MixStack("bench_mixed_load", options.port) as stack:
        stack.start_all()
        describe(stack, {})
        warm_up(stack)
        report = mix_run(stack, "mix", options.clients, options.seconds)
        wait_terminal(report, stack.database.url, TERMINAL_TIMEOUT)
        print_report(report)
        problems = report.problems()
        problems += [f"traceback in {path}" for path in stack.tracebacks()]
        return [f"mix: {problem}" for problem in problems]


def scenario_saturation(options) -> list[str]:
    light_seconds = max(10.0, min(60.0, options.seconds / 5))
    with MixStack("bench_pool_saturation", options.port) as stack:
        stack.start_web(**SQUEEZED_POOL)
        stack.start_worker()
        stack.start_beat()
        describe(stack, SQUEEZED_POOL)
        warm_up(stack)
        before = mix_run(stack, "light, before", options.light_clients, light_seconds)
        heavy = mix_run(stack, "heavy (saturated)", options.clients, options.seconds)
        after = mix_run(stack, "light, after", options.light_clients, light_seconds)
        for report in (before, heavy, after):
            wait_terminal(report, stack.database.url, TERMINAL_TIMEOUT)
            print_report(report)
        print("heavy phase, every 10 s:")
        print("\n".join(timeline_rows(heavy)))
        breaker = breaker_changes(stack)
        print(f"database breaker changes in the web log: {breaker or 'none'}")
        problems = saturation_problems(before, heavy, after, breaker)
        problems += [f"traceback in {path}" for path in stack.tracebacks()]
        return [f"saturation: {problem}" for problem in problems]


def breaker_changes(stack: MixStack) -> list[str]:
    changes = []
    for line in stack.log("web").read_text(errors="replace").splitlines():
        if "circuit breaker database" in line:
            try:
                changes.append(json.loads(line).get("message", line))
            except ValueError:
                changes.append(line)
    return changes


def saturation_problems(
    before: MixReport, heavy: MixReport, after: MixReport, breaker: list[str]
) -> list[str]:
    problems = [f"heavy: {p}" for p in heavy.problems(allow_503=True)]
    problems += [f"light before: {p}" for p in before.problems()]
    problems += [f"light after: {p}" for p in after.problems()]
    codes = {code for (status, code) in heavy.error_codes if status == 503}
    if codes - {"database_busy"}:
        problems.append(f"heavy: 503 codes other than database_busy: {sorted(codes)}")
    if breaker:
        problems.append(f"the database breaker changed state: {breaker}")
    p95_before = before.all_latencies().percentile_ms(0.95)
    p95_after = after.all_latencies().percentile_ms(0.95)
    limit = p95_before * RECOVERED_P95_FACTOR + RECOVERED_P95_SLACK_MS
    ratio = after.rate / before.rate if before.rate else 0.0
    print(
        f"recovery: light phase {before.rate:.1f} -> {after.rate:.1f} req/s ({ratio:.0%},"
        f" target >= {RECOVERED_RATE:.0%}); p95 {p95_before:.1f} -> {p95_after:.1f} ms"
        f" (target <= {limit:.1f} ms); 503s after: {after.unavailable}"
    )
    if ratio < RECOVERED_RATE:
        problems.append(f"light after at {ratio:.0%} of the rate before")
    if p95_after > limit:
        problems.append(f"light after p95 {p95_after:.1f} ms > {limit:.1f} ms")
    return problems


def describe(stack: MixStack, web_env: dict[str, str]) -> None:
    env = {**stack.env, **web_env}
    pool = (
        f"pool {env.get('DB_POOL_MIN_SIZE', 'default')}..{env.get('DB_POOL_MAX_SIZE', '50')},"
        f" timeout {env.get('DB_POOL_TIMEOUT', '30')} s"
    )
    print(
        f"gunicorn -c gunicorn.conf.py: {env['GUNICORN_WORKERS']} workers x"
        f" {env['GUNICORN_THREADS']} threads, {pool}; celery worker + beat;"
        f" {os.cpu_count()} CPUs; media: {', '.join(u.name for u in stack.uploads)};"
        f" logs in {stack.folder}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=("mix", "saturation", "all"), default="all")
    parser.add_argument("--seconds", type=float, default=300.0, help="the heavy mix's length")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--light-clients", type=int, default=5, help="saturation's light phases")
    parser.add_argument("--port", type=int, default=18951)
    options = parser.parse_args()

    problems: list[str] = []
    if options.scenario in ("mix", "all"):
        problems += scenario_mix(options)
    if options.scenario in ("saturation", "all"):
        problems += scenario_saturation(options)
    print(json.dumps({"targets_missed": problems}) if problems else "all targets met")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
