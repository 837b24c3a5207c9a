"""The token-authenticated status poll of a completed request against a separate bare
Django app, side by side in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python benchmarks/status_poll_vs_bare.py [--rounds 5] [--seconds 10]

What it does:
1. Creates a database of its own (``bench_poll_vs_bare``) on DATABASE_URL's server,
   migrates it, creates a token (``create_api_token``) and one completed request
   with its result. Flushes REDIS_URL's database: give it one nobody else uses.
2. Starts two gunicorns:
   - the project, exactly as shipped: ``gunicorn -c gunicorn.conf.py media_analysis.wsgi``,
     with its worker model (workers and threads as ``gunicorn.conf.py`` sizes them
     for this machine, unless GUNICORN_WORKERS / GUNICORN_THREADS are set in the
     environment), production settings (DEBUG off, JSON logs and the JSON access
     log, to a file here, Prometheus multiprocess folder) and the read throttle on
     at a rate the run cannot reach;
   - the reference of issue 12, ``benchmarks/bare_reference``: a Django app of its
     own (``CommonMiddleware`` only, one view returning a constant JSON body) with
     the issue's flags, 2 gthread workers x 16 threads (``--reference-workers`` /
     ``--reference-threads``), a socket per worker and 5 s keep-alive, on the
     command line, and nothing of the project's: not its ``gunicorn.conf.py`` (run
     from ``benchmarks/``, where gunicorn finds no config file), so no access log
     and no JSON logger class. What the project pays for those is part of what is
     measured. The worker model is the project's to choose (issue 12 names it as a
     way to the target); the reference stays where the target was set.
3. Warms both up (the first poll fills the cache), checks one answer of each, then
   runs wrk (``--connections`` keep-alive connections, ``--threads`` threads) against
   each in turn, ``--rounds`` rounds of ``--seconds`` seconds each, the order
   swapped every round, so a busy moment on the machine hits both alike.
   Counts PostgreSQL transactions on the bench database over the rounds
   (``pg_stat_database``): the cached poll, token check included, should make none.
4. Prints req/s, p50 and p99 of both, the ratio, the transactions per poll, and
   checks the targets of issue 12.

Exit status 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from web_harness import (
    GUNICORN,
    GUNICORN_DEFAULTS,
    ROOT,
    BenchDatabase,
    WrkRun,
    get,
    make_completed_requests,
    manage,
    production_env,
    require_servers,
    run_wrk,
    start_gunicorn,
    stop,
    wait_ready,
    workdir,
)

BENCH_DATABASE = "bench_poll_vs_bare"
BENCHMARKS = Path(__file__).resolve().parent
BARE_PATH = "/constant"
MIN_RATIO = 0.50
MAX_P99_MS = 100.0
MAX_P99_FACTOR = 2.5
MAX_TRANSACTIONS_PER_POLL = 0.01


def start_bare(env: dict[str, str], log: Path, port: int) -> subprocess.Popen:
    """The reference: the project's worker model as flags, nothing else of it."""
    command = [GUNICORN, "--worker-class", "gthread", "--reuse-port", "--keep-alive", "5"]
    command += ["--workers", env["GUNICORN_WORKERS"], "--threads", env["GUNICORN_THREADS"]]
    command += ["--bind", f"127.0.0.1:{port}", "bare_reference.wsgi"]
    handle = log.open("ab")
    return subprocess.Popen(
        command, cwd=BENCHMARKS, env=env, stdout=handle, stderr=subprocess.STDOUT
    )


def shipped_worker_model(env: dict[str, str]) -> tuple[int, int]:
    """(workers, threads) as gunicorn.conf.py computes them in this environment."""
    code = "import runpy; c = runpy.run_path('gunicorn.conf.py'); print(c['workers'], c['threads'])"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), int(out[1])


def prepare(database: BenchDatabase, env: dict[str, str]) -> tuple[str, str]:
    """(token, id of a completed request), in a freshly migrated database."""
    manage(env, "migrate", "-v", "0")
    token = manage(env, "create_api_token", "bench").strip()
    (request_id,) = make_completed_requests(env, 1)
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    return token, request_id


def check_answers(options, poll_path: str, headers: dict[str, str]) -> list[str]:
    """One answer of each, as a client sees it: the poll comes from the cache."""
    problems = []
    status, poll_headers, body = get(options.port, poll_path, headers)
    if status != 200 or poll_headers.get("x-data-source") != "cache":
        problems.append(
            f"poll answered {status}, X-Data-Source {poll_headers.get('x-data-source')}"
        )
    elif json.loads(body)["status"] != "completed":
        problems.append("the polled request is not completed")
    print(
        f"  one poll: {status}, {len(body)} bytes, X-Data-Source {poll_headers.get('x-data-source')}"
    )
    status, _, body = get(options.port + 1, BARE_PATH)
    if status != 200:
        problems.append(f"bare app answered {status}")
    print(f"  one bare answer: {status}, {len(body)} bytes")
    return problems


def alternate(options, poll_url: str, bare_url: str, headers) -> tuple[WrkRun, WrkRun]:
    """Rounds of both, the order swapped every round: (bare, poll). Short rounds, so
    the machine's own ups and downs (a shared host) fall on both alike."""
    bare_runs, poll_runs = [], []
    load = {"connections": options.connections, "threads": options.threads}
    for number in range(options.rounds):
        turns = [("bare", bare_url, {}), ("poll", poll_url, headers)]
        if number % 2:
            turns.reverse()
        runs = {
            kind: run_wrk(url, options.seconds, headers=sent, **load) for kind, url, sent in turns
        }
        bare_runs.append(runs["bare"]), poll_runs.append(runs["poll"])
        print(
            f"  round {number + 1:2}:  bare {runs['bare'].rate:6.0f} req/s"
            f" p99 {runs['bare'].percentile_ms(0.99):5.1f} ms   poll {runs['poll'].rate:6.0f} req/s"
            f" p99 {runs['poll'].percentile_ms(0.99):5.1f} ms   ratio {runs['poll'].rate / runs['bare'].rate:4.0%}",
            flush=True,
        )
    ratios = sorted(p.rate / b.rate for b, p in zip(bare_runs, poll_runs, strict=True))
    print(f"  median of the rounds' ratios: {statistics.median(ratios):.0%}")
    return WrkRun.merged(bare_runs), WrkRun.merged(poll_runs)


def describe(name: str, run: WrkRun) -> None:
    print(
        f"  {name:<22} {run.rate:8.0f} req/s   p50 {run.percentile_ms(0.50):6.1f} ms"
        f"   p99 {run.percentile_ms(0.99):6.1f} ms   non-2xx {run.non_2xx}"
        f"   socket errors {run.socket_errors}   ({run.requests} requests)"
    )


def verdict(bare: WrkRun, poll: WrkRun, per_poll: float) -> list[str]:
    ratio = poll.rate / bare.rate
    bare_p99, poll_p99 = bare.percentile_ms(0.99), poll.percentile_ms(0.99)
    failures = []
    if ratio < MIN_RATIO:
        failures.append(f"poll at {ratio:.0%} of the bare app (target >= {MIN_RATIO:.0%})")
    if poll_p99 >= MAX_P99_MS:
        failures.append(f"poll p99 {poll_p99:.1f} ms (target < {MAX_P99_MS:.0f} ms)")
    if poll_p99 > MAX_P99_FACTOR * bare_p99:
        failures.append(
            f"poll p99 {poll_p99:.1f} ms over {MAX_P99_FACTOR} x the bare app's {bare_p99:.1f} ms"
        )
    if poll.non_2xx or bare.non_2xx or poll.socket_errors or bare.socket_errors:
        failures.append(
            f"errors: poll {poll.non_2xx} non-2xx, {poll.socket_errors} socket; "
            f"bare {bare.non_2xx} non-2xx, {bare.socket_errors} socket"
        )
    if per_poll >= MAX_TRANSACTIONS_PER_POLL:
        failures.append(
            f"{per_poll:.4f} transactions per poll (target < {MAX_TRANSACTIONS_PER_POLL})"
        )
    print(
        f"  poll / bare: {ratio:.0%} (target >= {MIN_RATIO:.0%});  poll p99 {poll_p99:.1f} ms"
        f" (target < {MAX_P99_MS:.0f} ms and <= {MAX_P99_FACTOR} x {bare_p99:.1f} ="
        f" {MAX_P99_FACTOR * bare_p99:.1f} ms)"
    )
    return failures


def measure(options, database: BenchDatabase, env, token: str, request_id: str) -> list[str]:
    poll_path = f"/api/media/status/{request_id}"
    headers = {"Authorization": f"Token {token}"}
    poll_url = f"http://127.0.0.1:{options.port}{poll_path}"
    bare_url = f"http://127.0.0.1:{options.port + 1}{BARE_PATH}"
    load = {"connections": options.connections, "threads": options.threads}
    run_wrk(bare_url, 3, headers={}, **load)  # warm up: every worker imports and connects
    run_wrk(poll_url, 3, headers=headers, **load)
    problems = check_answers(options, poll_path, headers)
    print(
        f"{options.rounds} rounds of {options.seconds:g} s each, alternating;"
        f" load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    before = database.settled_transactions()
    bare, poll = alternate(options, poll_url, bare_url, headers)
    transactions = database.settled_transactions() - before
    per_poll = transactions / max(poll.requests, 1)
    print("totals:")
    describe("bare Django app", bare)
    describe("status poll (cached)", poll)
    print(f"  PostgreSQL transactions during the rounds: {transactions} ({per_poll:.5f} per poll)")
    return problems + verdict(bare, poll, per_poll)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds of each, alternating")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--port", type=int, default=18941, help="the project; the bare app +1")
    parser.add_argument("--reference-workers", type=int, default=2)
    parser.add_argument("--reference-threads", type=int, default=16)
    options = parser.parse_args()

    server_url, _ = require_servers()
    database = BenchDatabase(server_url, BENCH_DATABASE)
    folder = workdir("poll-vs-bare-")
    env = production_env(database.url, options.port, folder)
    for name in GUNICORN_DEFAULTS:  # the project's own sizing, as shipped
        if name not in os.environ:
            env.pop(name)
    bare_env = {
        **os.environ,
        "GUNICORN_WORKERS": str(options.reference_workers),
        "GUNICORN_THREADS": str(options.reference_threads),
    }
    print("preparing: database, token, a completed request ...", flush=True)
    token, request_id = prepare(database, env)
    workers, threads = shipped_worker_model(env)
    print(
        f"gunicorn (gthread): the project {workers} workers x {threads} threads (as"
        f" gunicorn.conf.py sizes it), the reference {options.reference_workers} x"
        f" {options.reference_threads}; wrk: {options.connections} connections,"
        f" {options.threads} threads; {os.cpu_count()} CPUs; logs in {folder}"
    )
    project = start_gunicorn(env, folder / "project.log")
    bare = start_bare(bare_env, folder / "bare.log", options.port + 1)
    try:
        wait_ready(options.port, "/health", project)
        wait_ready(options.port + 1, BARE_PATH, bare)
        failures = measure(options, database, env, token, request_id)
    finally:
        stop(project), stop(bare)
        database.drop()
    log = (folder / "project.log").read_text(errors="replace")
    if "Traceback" in log:
        failures.append(f"the project's log has a traceback: {folder / 'project.log'}")
    if not failures:
        shutil.rmtree(folder, ignore_errors=True)  # the access log alone is ~100 MB
    print(json.dumps({"targets_missed": failures}) if failures else "all targets met")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
