"""History pages over a million requests: p50/p95/p99 latency, uncached and cached,
per kind of page (issue 12: "a history page, cached and uncached, with filters and
search, has p95 under 20 ms at 1,000,000 requests").

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/11 \\
        flock /tmp/bench.lock .venv/bin/python benchmarks/history_p95.py [--samples 200]

What it does:
1. Creates a database of its own (``bench_history_p95``) on DATABASE_URL's server,
   migrates it, creates a token user (``create_api_token bench``), a staff token
   and four more owners, and writes 1,000,000 requests with server-side SQL
   (``history_seed.py``: owners, statuses, media types, providers, a year of
   ``created_at``, prompts with words common and rare), then VACUUM ANALYZE.
   Flushes REDIS_URL's database: give it one nobody else uses.
2. Starts the project's gunicorn exactly as shipped (``gunicorn -c gunicorn.conf.py
   media_analysis.wsgi``, production settings from the environment).
3. One client, one keep-alive connection, one request at a time (latency, not
   throughput). For every kind of page (first page, each filter, search with a
   common, a middling and a rare word, orderings, a deep page, filters combined,
   the staff-wide history) and every sample: make the caller's cached history
   stale the way a change does (increment its generation key in Redis), GET the
   page (uncached: ``X-Data-Source: database``), GET it again (cached:
   ``X-Data-Source: cache``). Samples vary the page's parameters (the date window,
   the word, the page number), so the database is not asked the same thing twice.
4. Prints a table per kind (p50/p95/p99, uncached and cached, against the target),
   then, for one page of each kind, the SQL the view ran with PostgreSQL's own
   execution time and plan (``EXPLAIN ANALYZE`` in ``manage.py shell``).

Exit status 0 when every kind's p95 is under the target, uncached and cached; 1 otherwise.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import psycopg
import redis
from history_seed import VOCABULARY, seed, word_shares
from web_harness import (
    BenchDatabase,
    database_url,
    manage,
    production_env,
    require_servers,
    start_gunicorn,
    stop,
    wait_ready,
    workdir,
)

BENCH_DATABASE = "bench_history_p95"
HISTORY = "/api/media/history"
TARGET_P95_MS = 20.0
OTHER_OWNERS = 4

# Search terms by how common they are (see history_seed.VOCABULARY's order).
COMMON_WORDS = VOCABULARY[:5]
MIDDLING_WORDS = VOCABULARY[25:40]
RARE_WORDS = VOCABULARY[-13:-1]  # the last takes the tail: not rare
DAY = 86_400


@dataclass(frozen=True)
class Kind:
    """One kind of history page: its name, whose history (the bench user's or the
    staff-wide one) and the query of sample n."""

    name: str
    query: Callable[[random.Random], dict[str, str]]
    staff: bool = False


def _window(rng: random.Random, days: int) -> dict[str, str]:
    end = time.time() - rng.uniform(0, 365 - days) * DAY
    stamp = time.strftime
    return {
        "created_after": stamp("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end - days * DAY)),
        "created_before": stamp("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end)),
    }


KINDS = (
    Kind("first page", lambda rng: {}),
    Kind("page_size=100", lambda rng: {"page_size": "100"}),
    Kind("status=completed", lambda rng: {"status": "completed"}),
    Kind("status=failed,cancelled", lambda rng: {"status": "failed,cancelled"}),
    Kind("media_type", lambda rng: {"media_type": rng.choice(["audio", "document", "image"])}),
    Kind("provider", lambda rng: {"provider": rng.choice(["anthropic", "gemini", "local"])}),
    Kind("model_used", lambda rng: {"model_used": rng.choice(["llava-13b", "gpt-4o-mini"])}),
    Kind("created 30-day window", lambda rng: _window(rng, 30)),
    Kind("search, common word", lambda rng: {"search": rng.choice(COMMON_WORDS)}),
    Kind("search, middling word", lambda rng: {"search": rng.choice(MIDDLING_WORDS)}),
    Kind("search, rare word", lambda rng: {"search": rng.choice(RARE_WORDS)}),
    Kind("ordering=created_at", lambda rng: {"ordering": "created_at"}),
    Kind("ordering=-completed_at", lambda rng: {"ordering": "-completed_at"}),
    Kind("ordering=-latency_ms", lambda rng: {"ordering": "-latency_ms"}),
    Kind("deep page (50..250)", lambda rng: {"page": str(rng.randint(50, 250))}),
    Kind(
        "filters + search combined",
        lambda rng: {
            "status": "completed",
            "media_type": "video",
            "search": rng.choice(MIDDLING_WORDS),
            **_window(rng, 90),
        },
    ),
    Kind("staff: first page", lambda rng: {}, staff=True),
    Kind("staff: status=failed", lambda rng: {"status": "failed"}, staff=True),
    Kind("staff: search, middling", lambda rng: {"search": rng.choice(MIDDLING_WORDS)}, True),
    Kind("staff: deep page", lambda rng: {"page": str(rng.randint(50, 250))}, staff=True),
)


@dataclass
class Timings:
    uncached: list[float] = field(default_factory=list)
    cached: list[float] = field(default_factory=list)
    inexact: int = 0  # uncached pages answering count_exact: false (a lower bound)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# ------------------------------------------------------------------- prepare
_MAKE_OWNERS = f"""
from django.contrib.auth import get_user_model
User = get_user_model()
others = [User.objects.get_or_create(username=f"owner{{n}}")[0].pk for n in range({OTHER_OWNERS})]
print(User.objects.get(username="bench").pk, *others)
"""


@dataclass(frozen=True)
class Prepared:
    user_token: str
    staff_token: str
    bench_id: int
    staff_id: int


def prepare(env: dict[str, str], reuse: bool) -> Prepared:
    manage(env, "migrate", "-v", "0")
    user_token = manage(env, "create_api_token", "bench").strip()
    staff_token = manage(env, "create_api_token", "bench-staff", "--staff").strip()
    # The last line: Django's shell may say first what it imported.
    owners = [int(n) for n in manage(env, "shell", "-c", _MAKE_OWNERS).splitlines()[-1].split()]
    staff_id = int(
        manage(
            env,
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model;"
            "print(get_user_model().objects.get(username='bench-staff').pk)",
        ).split()[-1]
    )
    with psycopg.connect(env["DATABASE_URL"]) as connection:
        present = connection.execute("SELECT count(*) FROM media_analysis_requests").fetchone()[0]
    if reuse and present:
        print(f"  reusing the {present:,} requests already there", flush=True)
    else:
        print("  writing 1,000,000 requests (server-side SQL), then VACUUM ANALYZE ...", flush=True)
        seeded = seed(env["DATABASE_URL"], owners, owners[0])
        print(
            f"  {seeded.rows:,} requests in {seeded.seconds:.0f} s; visible: "
            f"{seeded.visible_of_bench:,} of the bench user's, {seeded.visible_of_all:,} in all",
            flush=True,
        )
    shares = word_shares(env["DATABASE_URL"], owners[0], [*COMMON_WORDS[:2], *MIDDLING_WORDS[:2]])
    shares |= word_shares(env["DATABASE_URL"], owners[0], list(RARE_WORDS[:2]))
    print(
        "  the bench user's requests matching a few search terms: "
        + ", ".join(f"{word} {count:,}" for word, count in shares.items())
    )
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    return Prepared(user_token, staff_token, owners[0], staff_id)


# ------------------------------------------------------------------- measure
class Client:
    """One keep-alive connection, one request at a time."""

    def __init__(self, port: int):
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(self, path: str, token: str) -> tuple[float, int, str, bytes]:
        started = time.perf_counter()
        try:
            self.connection.request("GET", path, headers={"Authorization": f"Token {token}"})
            response = self.connection.getresponse()
            body = response.read()
        except (http.client.HTTPException, OSError):
            self.connection.close()  # the server closed a kept-alive connection: once more
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            return self.get(path, token)
        elapsed_ms = (time.perf_counter() - started) * 1000
        return elapsed_ms, response.status, response.getheader("X-Data-Source", ""), body


def generation_key(env: dict[str, str], scope: str) -> str:
    """analysis.cache's generation key of a history scope (a change increments it)."""
    prefix = env.get("CACHE_KEY_PREFIX", "media-analysis")
    return f"{prefix}:api:gen:history:{scope}"


def measure(
    options, env, prepared: Prepared, kinds: tuple[Kind, ...] = KINDS
) -> tuple[dict[str, Timings], list[str]]:
    client = Client(options.port)
    cache = redis.Redis.from_url(env["REDIS_URL"])
    rng = random.Random(12)
    problems: list[str] = []
    timings = {kind.name: Timings() for kind in kinds}
    for kind in kinds:  # warm up: every kind once, each worker's imports and plans
        for _ in range(4):
            client.get(f"{HISTORY}?{urlencode(kind.query(rng))}", prepared.user_token)
    for sample in range(options.samples):
        # Kinds interleaved, so a busy moment on the machine falls on all of them.
        for kind in kinds:
            token = prepared.staff_token if kind.staff else prepared.user_token
            scope = "all" if kind.staff else f"user:{prepared.bench_id}"
            path = f"{HISTORY}?{urlencode(kind.query(rng))}"
            cache.incr(generation_key(env, scope))
            for turn, expected in (("uncached", "database"), ("cached", "cache")):
                elapsed, status, source, body = client.get(path, token)
                if status != 200 or source != expected:
                    problems.append(f"{kind.name} {turn}: {status} from {source!r}: {body[:200]!r}")
                elif turn == "uncached" and not json.loads(body)["count_exact"]:
                    timings[kind.name].inexact += 1
                getattr(timings[kind.name], turn).append(elapsed)
        if sample % 50 == 49:
            print(f"  {sample + 1} samples of each kind", flush=True)
    return timings, problems[:20]


def report(timings: dict[str, Timings], target_ms: float = TARGET_P95_MS) -> list[str]:
    failures = []
    header = f"  {'kind':<28} {'uncached p50/p95/p99 ms':>26}   {'cached p50/p95/p99 ms':>24}"
    print(header + f"   target p95 < {target_ms:.0f} ms   count_exact false")
    every = Timings()
    for name, kind in timings.items():
        every.uncached += kind.uncached
        every.cached += kind.cached
        cells, missed = [], []
        for turn in ("uncached", "cached"):
            values = getattr(kind, turn)
            p50, p95, p99 = (percentile(values, f) for f in (0.50, 0.95, 0.99))
            cells.append(f"{p50:6.1f} {p95:6.1f} {p99:6.1f}")
            if p95 >= target_ms:
                missed.append(f"{name} {turn} p95 {p95:.1f} ms")
        verdict = "ok" if not missed else "MISSED"
        inexact = f"{kind.inexact}/{len(kind.uncached)}"
        print(f"  {name:<28} {cells[0]:>26}   {cells[1]:>24}   {verdict:<6}   {inexact:>7}")
        failures += missed
    for turn in ("uncached", "cached"):
        values = getattr(every, turn)
        print(
            f"  every page, {turn:<8}: p50 {percentile(values, 0.5):.1f} ms, p95"
            f" {percentile(values, 0.95):.1f} ms, p99 {percentile(values, 0.99):.1f} ms,"
            f" mean {statistics.fmean(values):.1f} ms ({len(values)} requests)"
        )
    return failures


# ---------------------------------------------------------------------- plans
# Run by ``manage.py shell`` against the bench database: each page once through the
# view (a query string of its own, so a cache miss), the SQL it ran, and what
# PostgreSQL says of each statement (EXPLAIN ANALYZE: its execution time, top plan).
_PLANS = """
import json, os
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
pages = json.loads(os.environ["HISTORY_PLAN_PAGES"])
out = []
for name, path, token in pages:
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION="Token " + token)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path + "&plan=1")
    statements = []
    for query in captured.captured_queries:
        sql = query["sql"]
        if "media_analysis_requests" not in sql:
            continue
        if sql.startswith("SET LOCAL "):  # the count, sent with its time budget
            sql = sql.split("; ", 1)[1]
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0][0]
        node = plan["Plan"]
        while node.get("Node Type") in ("Limit", "Aggregate", "Incremental Sort") and node.get("Plans"):
            node = node["Plans"][0]
        statements.append([sql[:70], plan["Execution Time"], node["Node Type"],
                           node.get("Index Name", node.get("Relation Name", ""))])
    out.append([name, response.status_code, len(captured.captured_queries), statements])
print("PLANS " + json.dumps(out))
"""


def plans(env: dict[str, str], prepared: Prepared, kinds: tuple[Kind, ...] = KINDS) -> None:
    rng = random.Random(99)
    pages = [
        [
            kind.name,
            f"{HISTORY}?{urlencode(kind.query(rng) or {'page': '1'})}",
            prepared.staff_token if kind.staff else prepared.user_token,
        ]
        for kind in kinds
    ]
    output = manage({**env, "HISTORY_PLAN_PAGES": json.dumps(pages)}, "shell", "-c", _PLANS)
    line = next(line for line in output.splitlines() if line.startswith("PLANS "))
    print("SQL per uncached page (one page of each kind; PostgreSQL's execution time, plan):")
    for name, status, count, statements in json.loads(line[len("PLANS ") :]):
        print(f"  {name:<28} {status}, {count} queries in all")
        for sql, ms, node, target in statements:
            print(f"      {ms:6.2f} ms  {node} {target}  <- {sql}")


# ----------------------------------------------------------------------- main
class KeptDatabase(BenchDatabase):
    """The database of an earlier run, kept (``--reuse``): not dropped and recreated."""

    def __init__(self, server_url: str, name: str):
        self.name = name
        self.url = database_url(server_url, name)
        self.admin = psycopg.connect(server_url, autocommit=True)
        exists = self.admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not exists.fetchone():
            self.admin.execute(f'CREATE DATABASE "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200, help="samples of each kind")
    parser.add_argument("--port", type=int, default=18961)
    parser.add_argument("--reuse", action="store_true", help="keep an earlier run's rows")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    options = parser.parse_args()

    server_url, _ = require_servers()
    database = (KeptDatabase if options.reuse else BenchDatabase)(server_url, BENCH_DATABASE)
    folder = workdir("history-p95-")
    env = production_env(database.url, options.port, folder)
    print("preparing: database, tokens, owners, a million requests ...", flush=True)
    failures: list[str] = []
    project = None
    try:
        prepared = prepare(env, options.reuse)
        print(
            f"gunicorn -c gunicorn.conf.py: {env['GUNICORN_WORKERS']} workers x"
            f" {env['GUNICORN_THREADS']} threads; one sequential client; {options.samples}"
            f" samples of {len(KINDS)} kinds; {os.cpu_count()} CPUs; logs in {folder}",
            flush=True,
        )
        project = start_gunicorn(env, folder / "project.log")
        wait_ready(options.port, "/health", project)
        timings, problems = measure(options, env, prepared)
        failures += problems
        print(f"history pages, {options.samples} samples per kind and turn:")
        failures += report(timings)
        plans(env, prepared)
    finally:
        if project is not None:
            stop(project)
        if options.keep:
            database.admin.close()
        else:
            database.drop()
    log = (folder / "project.log").read_text(errors="replace")
    if "Traceback" in log:
        failures.append(f"the project's log has a traceback: {folder / 'project.log'}")
    if not failures:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps({"targets_missed": failures}) if failures else "all targets met")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
