"""What the web benchmarks share: a database of their own, the project's gunicorn
started as shipped (``gunicorn -c gunicorn.conf.py media_analysis.wsgi``, settings
from the environment as in production), and wrk runs whose latency percentiles can
be merged across rounds.

Not a benchmark itself; ``status_poll_vs_bare.py``, ``mix_stack.py`` (the mixed load,
``web_soak_rss.py``) use it.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
CELERY = str(Path(sys.executable).with_name("celery"))
PROJECT_APP = "media_analysis.wsgi"
# Web settings a 2-core machine runs well with (measured: status_poll_vs_bare.py);
# the environment wins, and the reference app gets the same.
GUNICORN_DEFAULTS = {"GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "8"}
# Throttling stays on, at a rate no benchmark reaches (100 connections share a token).
READ_RATE_NOT_REACHED = "100000000/min"


# ------------------------------------------------------------------ database
def database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


class BenchDatabase:
    """A database of the benchmark's own on DATABASE_URL's server, dropped at the end.
    Counts its transactions from PostgreSQL's statistics, read over a connection
    to another database so the reading itself is not counted."""

    def __init__(self, server_url: str, name: str):
        import psycopg

        self.name = name
        self.url = database_url(server_url, name)
        self.admin = psycopg.connect(server_url, autocommit=True)
        self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.execute(f'CREATE DATABASE "{name}"')

    def transactions(self) -> int:
        self.admin.execute("SELECT pg_stat_clear_snapshot()")
        row = self.admin.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            [self.name],
        ).fetchone()
        return int(row[0]) if row else 0

    def settled_transactions(self, quiet_seconds: float = 11.0) -> int:
        """Backends report their counts up to ~10 s late: wait until the count holds."""
        time.sleep(quiet_seconds)
        value = self.transactions()
        while True:
            time.sleep(1.0)
            again = self.transactions()
            if again == value:
                return value
            value = again

    def connections(self) -> int:
        row = self.admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [self.name]
        ).fetchone()
        return int(row[0])

    def drop(self) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.close()


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def require_servers() -> tuple[str, str]:
    server_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not server_url or not redis_url:
        raise SystemExit(
            "Set DATABASE_URL (a PostgreSQL server) and REDIS_URL (a Redis database "
            "nobody else uses: it is flushed)."
        )
    return server_url, redis_url


# ------------------------------------------------------------------ gunicorn
def production_env(database: str, port: int, workdir: Path) -> dict[str, str]:
    """The environment of a production web process (as docker-compose.yml gives it),
    with this run's database, port and folders. Whatever the caller set wins."""
    env = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_FORMAT": "json",
        "API_THROTTLE_READ_RATE": READ_RATE_NOT_REACHED,
        "MEDIA_ANALYSIS_STORAGE_ROOT": str(workdir / "storage"),
        "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus"),
        **GUNICORN_DEFAULTS,
        **os.environ,
    }
    env.update(DATABASE_URL=database, GUNICORN_BIND=f"127.0.0.1:{port}")
    Path(env["MEDIA_ANALYSIS_STORAGE_ROOT"]).mkdir(parents=True, exist_ok=True)
    return env


def start_gunicorn(
    env: dict[str, str], log: Path, app: str = PROJECT_APP, pythonpath: str | None = None
) -> subprocess.Popen:
    """``gunicorn -c gunicorn.conf.py <app>``: the project's config file, always."""
    command = [GUNICORN, "-c", "gunicorn.conf.py"]
    if pythonpath:
        command += ["--pythonpath", pythonpath]
    handle = log.open("ab")
    return subprocess.Popen(
        [*command, app], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
    )


def start_celery(env: dict[str, str], log: Path, role: str, *extra: str) -> subprocess.Popen:
    """``celery -A media_analysis worker|beat -l info`` as shipped, ``extra`` arguments
    appended. In a session of its own, so ``kill_group`` reaches a worker's pool
    children the way a crashed container dies."""
    handle = log.open("ab")
    return subprocess.Popen(
        [CELERY, "-A", "media_analysis", role, "-l", "info", *extra],
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL a process started in a session of its own, with its children."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_for_log(log: Path, fragment: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{log.name}: the process exited ({process.returncode})")
        if log.exists() and fragment in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise SystemExit(f"{log.name}: no {fragment!r} within {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def get(port: int, path: str, headers: dict[str, str] | None = None):
    """(status, headers with lower-case names, body) of one GET."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


def wait_ready(port: int, path: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn on port {port} exited ({process.returncode})")
        try:
            if get(port, path)[0] < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn on port {port} did not answer {path} within {timeout:.0f} s")


def worker_pids(master_pid: int) -> list[int]:
    """The gunicorn master's worker processes (its children)."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    return sorted(int(pid) for pid in children.read_text().split()) if children.exists() else []


def rss_bytes(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


# ----------------------------------------------------------------------- wrk
# wrk's own histogram cannot be read from Lua, so done() prints 1,000 evenly spaced
# percentiles (each stands for 0.1 % of the round's requests): rounds then merge
# into one distribution, weighted by their request counts.
_WRK_SCRIPT = """
done = function(summary, latency, requests)
  local q = {}
  for i = 1, 1000 do q[i] = latency:percentile((i - 0.5) / 10) end
  local e = summary.errors
  io.write(string.format("WRK_RESULT %d %d %d %d %d %d %d %s\\n", summary.requests,
    summary.duration, e.connect, e.read, e.write, e.status, e.timeout, table.concat(q, ",")))
end
"""


@dataclass
class WrkRun:
    """One wrk run, or several merged: requests, seconds, errors by kind, and the
    latency distribution as (microseconds, weight in requests) points."""

    requests: int = 0
    seconds: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    points: list[tuple[float, float]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def non_2xx(self) -> int:
        return self.errors.get("status", 0)

    @property
    def socket_errors(self) -> int:
        return sum(n for kind, n in self.errors.items() if kind != "status")

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.points)
        total = sum(weight for _, weight in ordered)
        seen = 0.0
        for value, weight in ordered:
            seen += weight
            if seen >= fraction * total:
                return value / 1000
        return float("nan")

    @classmethod
    def merged(cls, runs: Iterable[WrkRun]) -> WrkRun:
        total = cls()
        for run in runs:
            total.requests += run.requests
            total.seconds += run.seconds
            total.points += run.points
            for kind, n in run.errors.items():
                total.errors[kind] = total.errors.get(kind, 0) + n
        return total


def run_wrk(
    url: str, seconds: float, *, connections: int, threads: int, headers: dict[str, str]
) -> WrkRun:
    """wrk against ``url`` for ``seconds``, latencies mergeable across runs."""
    return run_wrk_script(
        url, seconds, "", connections=connections, threads=threads, headers=headers
    )


def run_wrk_script(
    url: str,
    seconds: float,
    lua: str,
    *,
    connections: int,
    threads: int,
    headers: dict[str, str],
) -> WrkRun:
    """wrk with ``lua`` (request/delay functions, say) before the result reporter."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(lua + _WRK_SCRIPT)
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s"]
    command += ["--timeout", "10s", "-s", str(script)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    try:
        output = subprocess.run(
            [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60
        ).stdout
    finally:
        script.unlink()
    line = next(line for line in output.splitlines() if line.startswith("WRK_RESULT "))
    requests, duration, *errors, quantiles = line.split()[1:]
    kinds = ("connect", "read", "write", "status", "timeout")
    weight = int(requests) / 1000
    return WrkRun(
        requests=int(requests),
        seconds=int(duration) / 1e6,
        errors={kind: int(n) for kind, n in zip(kinds, errors, strict=True) if int(n)},
        points=[(float(q), weight) for q in quantiles.split(",")],
    )


# ------------------------------------------------------------- bench data
# Run by ``manage.py shell``: completed requests of the bench user, each with a
# result of a realistic length; prints their ids.
_MAKE_COMPLETED = """
from django.contrib.auth import get_user_model
from django.utils import timezone
from analysis.models import AnalysisRequest, AnalysisResult
now, owner = timezone.now(), get_user_model().objects.get(username="bench")
for _ in range(%d):
    request = AnalysisRequest.objects.create(
        owner=owner, media_url="https://example.org/clip.mp4",
        prompt="What happens in this clip?", provider="builtin", media_type="video",
        model_used="builtin-report", status="completed", started_at=now,
        completed_at=now, latency_ms=1234,
    )
    AnalysisResult.objects.create(
        request=request, result_text="A person walks a dog along a beach at dusk. " * 12,
        model_used="builtin-report", provider="builtin", input_tokens=1200,
        output_tokens=180, cost_usd="0.001250", latency_ms=800,
    )
    print(request.id)
"""


def make_completed_requests(env: dict[str, str], count: int) -> list[str]:
    """Ids of ``count`` new completed requests of the ``bench`` user."""
    output = manage(env, "shell", "-c", _MAKE_COMPLETED % count)
    # The shell may print more than the ids (a warning): keep what parses as one.
    return [word for word in output.split() if _is_uuid(word)]


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
