"""The service as an operator runs it: gunicorn, Celery worker and beat started as
separate processes with the exact commands the README and docker-compose.yml
give, on a Redis of the test's own (so it can be stopped) and the test database.

Each process runs in a session of its own, so a test can SIGKILL a worker with
its pool children the way a crashed container dies. Output goes to a log file
per process; with ``LOG_FORMAT=json`` (the production default) every line must be
a JSON object, and ``json_lines`` fails on any that is not.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from media_analysis.embedded import RedisServer, free_port
from tests.conftest import ROOT, run_manage, wait_until

VENV_BIN = Path(sys.executable).parent

# The commands as README.md and docker-compose.yml write them.
WEB_COMMAND = ["gunicorn", "-c", "gunicorn.conf.py", "media_analysis.wsgi"]
WORKER_COMMAND = ["celery", "-A", "media_analysis", "worker", "-l", "info"]
BEAT_COMMAND = ["celery", "-A", "media_analysis", "beat", "-l", "info"]
# The pools per queue (README, docs/deployment.md, compose's "scale" profile):
# the flags added to WORKER_COMMAND.
HEAVY_WORKER_FLAGS = ["-Q", "media.heavy,media", "--concurrency", "1", "-n", "heavy@%h"]
LIGHT_WORKER_FLAGS = ["-Q", "media.light,default,maintenance", "-n", "light@%h"]


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen | None = None

    def start(self) -> Process:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: killpg reaches pool children
            )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def lines(self) -> list[str]:
        return [line for line in self.text().splitlines() if line.strip()]

    def json_lines(self) -> list[dict]:
        """Every line of output as a JSON object; fails on a line that is not one."""
        entries = []
        for number, line in enumerate(self.lines(), start=1):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                raise AssertionError(f"{self.name} line {number} is not JSON: {line!r}") from None
            assert isinstance(entry, dict), f"{self.name} line {number}: {line!r}"
            entries.append(entry)
        return entries

    def wait_for_line(self, fragment: str, timeout: float = 60) -> None:
        wait_until(
            lambda: fragment in self.text() or not self.alive(),
            timeout,
            f"{self.name} to log {fragment!r}",
        )
        assert self.alive(), f"{self.name} exited:\n{self.text()[-5000:]}"

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM to the main process, as `docker stop` or Ctrl-C does."""
        if not self.alive():
            return self.popen.returncode if self.popen else 0
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not stop within {timeout} s") from None

    def kill(self) -> None:
        """SIGKILL the whole process group: the main process and its children."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()


@dataclass
class Stack:
    """Processes sharing one environment, plus the Redis they use."""

    folder: Path
    env: dict[str, str]
    redis: RedisServer
    processes: list[Process] = field(default_factory=list)
    web_port: int = 0
    token: str = ""

    def start(self, name: str, argv: list[str], **env: str) -> Process:
        process = Process(
            name, argv, {**self.env, **env}, self.folder / f"{name}-{len(self.processes)}.log"
        )
        self.processes.append(process.start())
        return process

    def start_web(self) -> Process:
        self.web_port = free_port()
        web = self.start("web", WEB_COMMAND, GUNICORN_BIND=f"127.0.0.1:{self.web_port}")
        wait_until(self._web_answers, 60, "gunicorn to answer /health")
        return web

    def start_worker(self, *extra: str, **env: str) -> Process:
        worker = self.start("worker", [*WORKER_COMMAND, *extra], **env)
        worker.wait_for_line(" ready.")
        return worker

    def start_beat(self, **env: str) -> Process:
        schedule = self.folder / "celerybeat-schedule"
        beat = self.start("beat", [*BEAT_COMMAND, "--schedule", str(schedule)], **env)
        beat.wait_for_line("beat: Starting")
        return beat

    def _web_answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def api(self) -> httpx.Client:
        if not self.token:
            self.token = run_manage("create_api_token", "alice", env=self.env).stdout.strip()
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Token {self.token}"}, timeout=30
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.alive():
                with contextlib.suppress(AssertionError):
                    process.terminate(timeout=30)
        self.redis.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.text()[-4000:]}" for p in self.processes)


def submit_upload(
    client: httpx.Client, path: Path, *, headers: dict[str, str] | None = None, **fields: str
) -> httpx.Response:
    with path.open("rb") as media:
        return client.post(
            "/api/media/analyze",
            files={"file": (path.name, media)},
            data={"prompt": "What happens?", **fields},
            headers=headers,
        )
