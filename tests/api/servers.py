"""A real gunicorn serving the project, for tests that need a separate server
process (the schemathesis fuzz run, the fault tests), started with the shipped
command and the test environment plus overrides; stopped by its own process id."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from media_analysis.embedded import free_port
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LiveServer:
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-20000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# The web as the Dockerfile, docker-compose.yml and README start it.
SHIPPED_GUNICORN = ["gunicorn", "-c", "gunicorn.conf.py", "media_analysis.wsgi"]


def start_gunicorn(
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
    try:
        wait_until(lambda: _answers(server), 60, "gunicorn to answer /health")
    except AssertionError:
        server.stop()
        raise RuntimeError(f"gunicorn did not answer /health in time:\n{server.log()}") from None
    return server


def _answers(server: LiveServer) -> bool:
    if server.process.poll() is not None:
        raise RuntimeError(f"gunicorn exited at start:\n{server.log()}")
    try:
        return httpx.get(f"{server.url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
