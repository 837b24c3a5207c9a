"""Servers a fault test owns (never the machine's): a PostgreSQL (pgserver) it can
stop and start, and a port that accepts connections but never answers; plus timed
probes of a live server."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from media_analysis.embedded import free_port, start_postgres
from tests.api.servers import ROOT, LiveServer

# The web as the Dockerfile and docker-compose.yml start it.
SHIPPED_GUNICORN = ["gunicorn", "-c", "gunicorn.conf.py", "media_analysis.wsgi"]


def start_shipped_gunicorn(
    log_dir: Path, env: dict[str, str], *, workers: int = 2, threads: int = 4
) -> LiveServer:
    """gunicorn started exactly as shipped (from the repository root), with the
    test environment plus ``env``; returns once ``/health`` answers."""
    port = free_port()
    log_path = log_dir / f"gunicorn-{port}.log"
    full_env = {
        **os.environ,
        "DEBUG": "true",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "DB_POOL_MIN_SIZE": "1",
        # The venv's scripts first, as in the image.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            SHIPPED_GUNICORN, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
    server = LiveServer(process, port, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited at start:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"gunicorn did not answer /health in time:\n{server.log()}")


class OwnPostgres:
    """A pgserver PostgreSQL (Unix socket only) in a folder of its own under the
    system's temporary directory: not under pytest's, whose permissions a pytest
    session starting meanwhile resets to 0700, so that the server's own user could
    no longer reach it to start again."""

    def __init__(self, database: str = "faults"):
        self._folder = Path(tempfile.mkdtemp(prefix="ma-faults-"))
        self._server, self.url = start_postgres(self._folder / "pg", database=database)

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        server = self._server
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)

    def start(self) -> None:
        self._server.ensure_postgres_running()

    def cleanup(self) -> None:
        self._server.cleanup()
        atexit.unregister(self._server._cleanup)  # done: nothing left for interpreter exit
        shutil.rmtree(self._folder, ignore_errors=True)


@contextmanager
def silent_port() -> Iterator[int]:
    """A TCP port on 127.0.0.1 whose connections are accepted by the kernel (the
    backlog) but never read or answered: a server that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(512)
        yield listener.getsockname()[1]


@dataclass
class Probe:
    status: int
    seconds: float
    body: dict


def probe(url: str, client: httpx.Client | None = None) -> Probe:
    """One GET /health/ready, timed."""
    if client is None:
        with httpx.Client(timeout=30) as own:
            return probe(url, own)
    started = time.monotonic()
    response = client.get(f"{url}/health/ready")
    return Probe(response.status_code, time.monotonic() - started, response.json())


def probes(url: str, count: int, pause: float = 0.3) -> list[Probe]:
    """``count`` probes one after another."""
    answers = []
    with httpx.Client(timeout=30) as client:
        for _ in range(count):
            answers.append(probe(url, client))
            time.sleep(pause)
    return answers


def burst(url: str, count: int) -> list[Probe]:
    """``count`` probes at once, each timed on its own (one shared client, so the
    timings are the server's, not this process creating clients)."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    with httpx.Client(timeout=30, limits=limits) as client:
        with ThreadPoolExecutor(max_workers=count) as pool:
            return list(pool.map(lambda _: probe(url, client), range(count)))


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout} s: {what}")
