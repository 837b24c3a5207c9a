"""Status polling under gunicorn: throughput against a bare Django view, database
queries per poll, and the status cache hit rate for a realistic polling mix.

    DATABASE_URL=postgres://... REDIS_URL=redis://.../N \\
        .venv/bin/python benchmarks/status_poll_throughput.py [--duration 15] [--clients 100]

What it does:
1. Creates a database of its own (``bench_status_poll``) on DATABASE_URL's server,
   migrates it, creates an API token (``create_api_token``) and one analysis request
   per client. Flushes REDIS_URL's database: give it one nobody else uses.
2. Starts gunicorn with the project's gunicorn.conf.py (workers and threads from the
   environment as in production; access log off and worker recycling off for both
   phases alike) on this module's WSGI app: the project's URLs plus
   ``/bench/constant``, a plain Django view returning a constant JSON body behind
   the same middleware.
3. Closed loop, ``--clients`` keep-alive connections from one asyncio process:
   the bare view, then ``GET /api/media/status/{id}`` (each client its own
   request, already cached), taking turns for ``--rounds`` rounds that add up to
   ``--duration`` seconds each, so a busy moment on the machine hits both alike. Counts PostgreSQL
   transactions on the database meanwhile (``pg_stat_database.xact_commit``):
   the cached poll, token check included, should make none.
4. A realistic mix for ``--duration`` seconds: every client polls its request about
   once a second while a simulated worker moves the requests through processing
   to completed (each change invalidates the cached status), and clients read the
   history now and then. Reads the hit rate from the cache's own counters.
5. Prints the figures and ratios and checks the targets (no errors, status poll >=
   35 % of the bare view, 0 queries per cached poll, hit rate > 90 %).

Exit status 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "bench_status_poll"


# ----------------------------------------------------------- served by gunicorn
def _build_application():
    """The project's WSGI app with one extra URL, the bare baseline view."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "media_analysis.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    from django.http import JsonResponse
    from django.urls import include, path

    def constant(request):
        return JsonResponse({"status": "ok", "answer": 42})

    urls = type(sys)("bench_urls")
    urls.urlpatterns = [path("bench/constant", constant), path("", include("media_analysis.urls"))]
    sys.modules["bench_urls"] = urls
    settings.ROOT_URLCONF = "bench_urls"
    return get_wsgi_application()


def __getattr__(name: str):  # gunicorn looks up "application" when it loads us
    if name == "application":
        app = _build_application()
        globals()["application"] = app
        return app
    raise AttributeError(name)


# ------------------------------------------------------------------ load client
@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    errors: int = 0

    def add(self, status: int, latency: float, source: str | None) -> None:
        self.latencies.append(latency)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if source:
            self.sources[source] = self.sources.get(source, 0) + 1

    def merge(self, other: Tally) -> None:
        self.latencies += other.latencies
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n
        for source, n in other.sources.items():
            self.sources[source] = self.sources.get(source, 0) + n
        self.errors += other.errors

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def bad(self) -> int:
        return self.errors + sum(n for s, n in self.statuses.items() if s != 200)


async def _request(reader, writer, raw: bytes) -> tuple[int, dict[str, str]]:
    writer.write(raw)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers


async def _client(port, token, paths, stop_at, tally: Tally, interval: float | None) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < stop_at:
            path = paths()
            raw = (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\n\r\n"
            ).encode()
            started = time.perf_counter()
            try:
                status, headers = await _request(reader, writer, raw)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                tally.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            elapsed = time.perf_counter() - started
            tally.add(status, elapsed, headers.get("x-data-source"))
            if headers.get("connection", "").lower() == "close":
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            if interval:
                await asyncio.sleep(max(0.0, interval * random.uniform(0.8, 1.2) - elapsed))
    finally:
        writer.close()


async def _load(
    port, token, path_for_client, clients, seconds, interval=None
) -> tuple[Tally, float]:
    tally = Tally()
    started = time.monotonic()
    stop_at = started + seconds
    await asyncio.gather(
        *(
            _client(port, token, path_for_client(i), stop_at, tally, interval)
            for i in range(clients)
        )
    )
    return tally, time.monotonic() - started


def load(*args, **kwargs) -> tuple[Tally, float]:
    return asyncio.run(_load(*args, **kwargs))


# --------------------------------------------------------------------- helpers
def _database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return result.stdout


class TransactionCounter:
    """Transactions committed in the bench database, from PostgreSQL's statistics.
    Backends report them up to ~10 s late, so readings wait until the count is
    still; this counter's own two statements per reading are subtracted."""

    def __init__(self, cursor):
        self.cursor = cursor
        self.own = 0

    def _read(self) -> int:
        self.cursor.execute("SELECT pg_stat_clear_snapshot()")
        self.cursor.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", [BENCH_DATABASE]
        )
        self.own += 2
        return int(self.cursor.fetchone()[0])

    def settled(self, quiet_seconds: float = 11.0) -> int:
        time.sleep(quiet_seconds)
        value = self._read()
        while True:
            time.sleep(1.0)
            again = self._read()
            if again - value <= 2:
                return again - self.own
            value = again


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _describe(name: str, tally: Tally, seconds: float) -> float:
    rate = tally.count / seconds
    print(
        f"  {name:<28} {rate:8.0f} req/s  p50 {statistics.median(tally.latencies) * 1000:6.1f} ms"
        f"  p99 {_percentile(tally.latencies, 0.99) * 1000:6.1f} ms  "
        f"statuses {tally.statuses}  errors {tally.errors}"
    )
    return rate


def _wait_for(url: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer {url}")


# ------------------------------------------------------------------------ main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="turns of bare view and status poll")
    parser.add_argument("--port", type=int, default=18931)
    parser.add_argument("--keep-database", action="store_true")
    options = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL")
    if not server_url or not os.environ.get("REDIS_URL"):
        raise SystemExit(
            "Set DATABASE_URL (a PostgreSQL server) and REDIS_URL (a Redis database of its own)."
        )
    import psycopg

    admin = psycopg.connect(server_url, autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(server_url, BENCH_DATABASE),
        "DEBUG": os.environ.get("DEBUG", "true"),
        "LOG_LEVEL": "warning",
        "API_THROTTLE_READ_RATE": "100000000/min",
        "GUNICORN_BIND": f"127.0.0.1:{options.port}",
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "GUNICORN_MAX_REQUESTS": "100000000",
        "MEDIA_ANALYSIS_STORAGE_ROOT": os.environ.get(
            "MEDIA_ANALYSIS_STORAGE_ROOT", str(ROOT / ".local" / "bench" / "storage")
        ),
    }
    Path(env["MEDIA_ANALYSIS_STORAGE_ROOT"]).mkdir(parents=True, exist_ok=True)
    print("preparing: migrate, token, requests ...", flush=True)
    _manage(env, "migrate", "-v", "0")
    token = _manage(env, "create_api_token", "bench").strip()

    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DEBUG", "MEDIA_ANALYSIS_STORAGE_ROOT")})
    os.environ["DB_POOL"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "media_analysis.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_redis import get_redis_connection

    from analysis import cache
    from analysis.models import AnalysisRequest, AnalysisResult, AnalysisStatus

    get_redis_connection("default").flushdb()
    owner = get_user_model().objects.get(username="bench")
    requests = [
        AnalysisRequest.objects.create(
            owner=owner, media_url="https://example.org/v.mp4", prompt=f"p{i}"
        )
        for i in range(options.clients)
    ]
    ids = [str(r.id) for r in requests]

    gunicorn = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "gunicorn.conf.py",
            "--pythonpath",
            str(ROOT / "benchmarks"),
            "status_poll_throughput:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    failures: list[str] = []
    try:
        base = f"http://127.0.0.1:{options.port}"
        _wait_for(f"{base}/health")
        workers = env.get("GUNICORN_WORKERS", "default (2 x cores + 1, at most 8)")
        print(
            f"gunicorn: workers {workers}, threads {env.get('GUNICORN_THREADS', '4')}, gthread; "
            f"{os.cpu_count()} CPUs; {options.clients} keep-alive clients; {options.duration:.0f} s per phase"
        )

        # warm up: every worker imports, every status gets cached
        load(options.port, token, lambda i: lambda: "/bench/constant", options.clients, 2)
        load(
            options.port, token, lambda i: lambda: f"/api/media/status/{ids[i]}", options.clients, 2
        )

        print(f"closed loop, {options.rounds} rounds taking turns (a busy moment hits both alike):")
        bare, polls = Tally(), Tally()
        bare_seconds = poll_seconds = 0.0
        counter = TransactionCounter(connection.cursor())
        before = counter.settled()  # warm-up statistics arrive late too
        slice_seconds = options.duration / options.rounds
        for _ in range(options.rounds):
            tally, seconds = load(
                options.port,
                token,
                lambda i: lambda: "/bench/constant",
                options.clients,
                slice_seconds,
            )
            bare.merge(tally)
            bare_seconds += seconds
            tally, seconds = load(
                options.port,
                token,
                lambda i: lambda: f"/api/media/status/{ids[i]}",
                options.clients,
                slice_seconds,
            )
            polls.merge(tally)
            poll_seconds += seconds
        queries = counter.settled() - before  # both kinds of phase: neither should query
        bare_rate = _describe("bare Django view", bare, bare_seconds)
        poll_rate = _describe("status poll (cached)", polls, poll_seconds)
        ratio = poll_rate / bare_rate
        per_poll = max(queries, 0) / max(polls.count, 1)
        print(
            f"  status poll / bare view: {ratio:.0%}   database transactions during the closed loop: "
            f"{max(queries, 0)} ({per_poll:.4f} per poll)   served from cache: "
            f"{polls.sources.get('cache', 0) / max(polls.count, 1):.1%}"
        )

        print(
            "realistic mix: each client polls ~1/s, requests complete meanwhile, history now and then:"
        )
        cache.reset_cache_stats()
        stop = time.monotonic() + options.duration

        def simulate_worker() -> int:
            from analysis import pipeline

            changes = 0
            order = list(requests)
            random.shuffle(order)
            step = options.duration / (len(order) + 1)
            for request in order:
                if time.monotonic() >= stop:
                    break
                pipeline._claim(request.id)
                time.sleep(step / 2)
                AnalysisResult.objects.create(
                    request_id=request.id,
                    result_text="done",
                    model_used="bench",
                    provider="builtin",
                )
                row = AnalysisRequest.objects.get(pk=request.id)
                row.status = AnalysisStatus.COMPLETED
                row.save(update_fields=["status"])
                cache.invalidate_request(row)
                changes += 2
                time.sleep(step / 2)
            return changes

        def mix_path(i):
            def pick() -> str:
                return (
                    "/api/media/history"
                    if random.random() < 0.05
                    else f"/api/media/status/{ids[i]}"
                )

            return pick

        import threading

        result: dict = {}
        worker = threading.Thread(target=lambda: result.update(changes=simulate_worker()))
        worker.start()
        mix, seconds = load(
            options.port, token, mix_path, options.clients, options.duration, interval=1.0
        )
        worker.join()
        _describe("mixed polling", mix, seconds)
        stats = cache.cache_stats()
        status_stats = stats["status"]
        hit_rate = status_stats["hits"] / max(status_stats["lookups"], 1)
        print(
            f"  state changes: {result.get('changes', 0)}   status lookups {status_stats['lookups']}, "
            f"misses {status_stats['misses']}: hit rate {hit_rate:.1%}   history hit rate "
            f"{stats['history']['hits'] / max(stats['history']['lookups'], 1):.1%}"
        )

        if bare.bad or polls.bad or mix.bad:
            failures.append(f"errors: bare {bare.bad}, polls {polls.bad}, mix {mix.bad}")
        if ratio < 0.35:
            failures.append(f"status poll at {ratio:.0%} of the bare view (target >= 35 %)")
        if per_poll > 0.001:
            failures.append(f"{per_poll:.4f} database transactions per cached poll (target 0)")
        if hit_rate <= 0.90:
            failures.append(f"status hit rate {hit_rate:.1%} (target > 90 %)")
    finally:
        gunicorn.terminate()
        try:
            _, stderr = gunicorn.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            gunicorn.kill()
            _, stderr = gunicorn.communicate()
        connection.close()
        if "PoolTimeout" in (stderr or "") or "couldn't get a connection" in (stderr or ""):
            failures.append("database pool exhausted (PoolTimeout in the server log)")
        if not options.keep_database:
            admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        admin.close()

    print(json.dumps({"targets_missed": failures}) if failures else "all targets met")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
