"""Servers a fault test owns (never the machine's): a PostgreSQL (pgserver) it can
stop and start, and a port that accepts connections but never answers; plus timed
probes of a live server."""

from __future__ import annotations

import atexit
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from media_analysis.embedded import start_postgres


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
