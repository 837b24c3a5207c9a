"""The whole service for the mixed load, started as shipped: a database of its own on
DATABASE_URL's server, Redis at REDIS_URL (flushed: give it a database nobody else
uses), ``gunicorn -c gunicorn.conf.py media_analysis.wsgi``,
``celery -A media_analysis worker -l info`` and ``celery -A media_analysis beat -l info``
with a production environment, plus a local HTTP server for URL submissions.

Not a benchmark itself; ``mixed_load.py`` and ``web_soak_rss.py`` use it, and fault
scenarios can too::

    with MixStack("bench_faults", port=18960) as stack:
        stack.start_web(); stack.start_worker(); stack.start_beat()
        report = run_mix(stack.url, stack.token, clients=100, seconds=60,
                         targets=stack.targets, connections=stack.database.connections,
                         metrics_token=stack.metrics_token)

Each process can be given environment of its own (``start_web(DB_POOL_MAX_SIZE="2")``),
stopped (``stop``) or SIGKILLed with its children (``web_harness.kill_group``) and
started again; logs go to ``stack.folder``.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path

from load_mix import MixTargets
from mix_media import MediaServer, Upload, sample_uploads
from web_harness import (
    READ_RATE_NOT_REACHED,
    BenchDatabase,
    manage,
    production_env,
    require_servers,
    start_celery,
    start_gunicorn,
    stop,
    wait_for_log,
    wait_ready,
    workdir,
)

# What every process of the mix runs with, beyond production_env's. Throttling stays
# on, at rates the run cannot reach: 100 clients share one token.
MIX_ENV = {
    "API_THROTTLE_READ_RATE": READ_RATE_NOT_REACHED,
    "API_THROTTLE_WRITE_RATE": READ_RATE_NOT_REACHED,
    # URL submissions fetch from the local media server on 127.0.0.1.
    "MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS": "true",
    # gunicorn's access log would be ~100 MB in five minutes; the app's own JSON
    # logs stay on.
    "GUNICORN_ACCESS_LOG": "/dev/null",
}


class MixStack:
    """The processes, their environment and the bench database; a context manager
    that stops every process it started and drops the database."""

    def __init__(self, name: str, port: int, *, uploads: list[Upload] | None = None, **env: str):
        server_url, redis_url = require_servers()
        self.name = name
        self.port = port
        self.folder = workdir(f"{name}-")
        self.database = BenchDatabase(server_url, name)
        self.metrics_token = secrets.token_urlsafe(24)
        self.env = production_env(self.database.url, port, self.folder)
        self.env.update(MIX_ENV, METRICS_TOKEN=self.metrics_token, **env)
        self.redis_url = redis_url
        # What the media server serves (and uploads send): the mix's files unless given.
        self.uploads = sample_uploads() if uploads is None else uploads
        self.media = MediaServer(self.uploads).start()
        self.processes: dict[str, subprocess.Popen] = {}
        self.token = self._prepare()

    def _prepare(self) -> str:
        import redis

        manage(self.env, "migrate", "-v", "0")
        redis.Redis.from_url(self.redis_url).flushdb()
        return manage(self.env, "create_api_token", "bench").strip()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def targets(self) -> MixTargets:
        return MixTargets(self.uploads, self.media.urls, self.media.missing_url)

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def start_web(self, **env: str) -> subprocess.Popen:
        """gunicorn as shipped; ``env`` on top of the stack's (this process only)."""
        web = start_gunicorn({**self.env, **env}, self.log("web"))
        self.processes["web"] = web
        wait_ready(self.port, "/health", web)
        return web

    def start_worker(self, *args: str, name: str = "worker", **env: str) -> subprocess.Popen:
        """``celery -A media_analysis worker -l info`` plus ``args``; ``name`` keys
        the process and its log, so several workers can run side by side."""
        worker = start_celery({**self.env, **env}, self.log(name), "worker", *args)
        self.processes[name] = worker
        wait_for_log(self.log(name), " ready.", worker, timeout=90)
        return worker

    def start_beat(self, **env: str) -> subprocess.Popen:
        # The schedule file in the run's folder, not the repository's root.
        schedule = str(self.folder / "celerybeat-schedule")
        beat = start_celery({**self.env, **env}, self.log("beat"), "beat", "--schedule", schedule)
        self.processes["beat"] = beat
        wait_for_log(self.log("beat"), "beat: Starting", beat)
        return beat

    def start_all(self, **web_env: str) -> None:
        self.start_web(**web_env)
        self.start_worker()
        self.start_beat()

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            stop(process)

    def tracebacks(self) -> list[str]:
        """Logs of this run that hold a Python traceback."""
        return [
            str(path)
            for path in sorted(self.folder.glob("*.log"))
            if "Traceback" in path.read_text(errors="replace")
        ]

    def close(self, *, keep_logs: bool = False) -> None:
        for name in reversed(list(self.processes)):  # the last started first
            self.stop(name)
        self.media.close()
        self.database.drop()
        if not keep_logs:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> MixStack:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        # Logs are kept when the run failed or left a traceback: they are the evidence.
        self.close(keep_logs=kind is not None or bool(self.tracebacks()))
