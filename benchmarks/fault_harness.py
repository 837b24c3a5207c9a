"""What the fault benchmarks (``load_faults.py``) share: a PostgreSQL and a Redis of
their own that can be stopped, killed and started again (never the machine's
servers), the service's processes started as shipped in sessions of their own, a
paced wrk run, a paced writer whose every answer is kept, and latency summaries.

Not a benchmark itself.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from web_harness import ROOT, WrkRun, run_wrk_script

sys.path.insert(0, str(ROOT))  # media_analysis.embedded: the project's embedded servers

from media_analysis.embedded import RedisServer, free_port

VENV_BIN = Path(sys.executable).parent
# The commands as README.md and docker-compose.yml write them.
WEB_COMMAND = ["gunicorn", "-c", "gunicorn.conf.py", "media_analysis.wsgi"]
WORKER_COMMAND = ["celery", "-A", "media_analysis", "worker", "-l", "info"]
BEAT_COMMAND = ["celery", "-A", "media_analysis", "beat", "-l", "info"]


# -------------------------------------------------------------------- servers
class OwnPostgres:
    """The machine's PostgreSQL binaries (``/usr/lib/postgresql/*/bin``: contrib
    extensions such as pg_trgm, which the migrations need) running a cluster of the
    run's own in a temporary folder, on a free TCP port, to stop and start mid-run.
    A stopped server refuses connections at once, as a host whose PostgreSQL is
    down does (a vanished host is a connect timeout, bounded by DB_CONNECT_TIMEOUT).
    As root, the server runs as the ``postgres`` user (initdb refuses root)."""

    def __init__(self, database: str = "bench_faults"):
        self.bin = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
        self.folder = Path(tempfile.mkdtemp(prefix="ma-bench-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", database)
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / tool), *args],
            check=True,
            capture_output=True,
            cwd=self.folder,
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
        log = str(self.folder / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def cleanup(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def own_redis(folder: Path, *, persistent: bool = False) -> RedisServer:
    """A redis-server of the run's own on a TCP port (as production reaches it)."""
    return RedisServer(folder / "redis", port=free_port(), persistent=persistent).start()


def kill_redis(server: RedisServer) -> None:
    """SIGKILL, as a crashed container or the OOM killer ends it: no save, no goodbye."""
    if server.process and server.process.poll() is None:
        server.process.kill()
        server.process.wait()
    server.process = None


# ------------------------------------------------------------------ processes
@dataclass
class Service:
    """One of the service's processes, started as shipped in a session of its own,
    so SIGKILL to its group reaches its children (gunicorn workers, Celery's pool)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen | None = None

    def start(self) -> Service:
        with self.log.open("ab") as handle:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env={**self.env, "PATH": f"{VENV_BIN}{os.pathsep}{self.env.get('PATH', '')}"},
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, fragment: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if fragment in self.text():
                return
            if not self.alive():
                raise SystemExit(f"{self.name} exited:\n{self.text()[-3000:]}")
            time.sleep(0.2)
        raise SystemExit(f"{self.name} did not log {fragment!r} within {timeout:.0f} s")

    def kill(self) -> None:
        """SIGKILL to the whole group: the main process and its children at once."""
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self, timeout: float = 40) -> None:
        if not self.alive():
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def start_worker(env: dict[str, str], folder: Path, number: int = 0) -> Service:
    worker = Service("worker", WORKER_COMMAND, env, folder / f"worker-{number}.log").start()
    worker.wait_for(" ready.")
    return worker


def start_beat(env: dict[str, str], folder: Path) -> Service:
    schedule = ["--schedule", str(folder / "celerybeat-schedule")]
    beat = Service("beat", [*BEAT_COMMAND, *schedule], env, folder / "beat.log").start()
    beat.wait_for("beat: Starting")
    return beat


# ------------------------------------------------------------------------ wrk
# Pacing: wrk calls delay() before each request of a connection, so C connections
# each waiting D ms send at most C x 1000 / D requests a second (less by the
# answers' own latency: a closed loop, no coordinated-omission correction).
_PACED_SCRIPT = """
local paths = {%s}
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
delay = function() return %d end
"""


def run_paced_wrk(
    port: int,
    paths: list[str],
    seconds: float,
    *,
    rate: float,
    connections: int,
    headers: dict[str, str],
) -> WrkRun:
    """GETs of ``paths`` in turn at about ``rate`` requests a second (0: as fast as
    the machine can), latencies mergeable as web_harness.run_wrk's."""
    pause_ms = int(max(0.0, connections * 1000 / rate - 1.0)) if rate else 0
    quoted = ",".join(json.dumps(path) for path in paths)
    return run_wrk_script(
        f"http://127.0.0.1:{port}",
        seconds,
        _PACED_SCRIPT % (quoted, pause_ms),
        connections=connections,
        threads=2,
        headers=headers,
    )


# --------------------------------------------------------------------- writer
@dataclass
class Answer:
    """One request as the client saw it: when it left (monotonic), how long it took,
    the status (0: no answer, ``error`` says why) and Retry-After."""

    at: float
    seconds: float
    status: int
    retry_after: str | None = None
    error: str | None = None
    request_id: str | None = None


SUBMISSION = json.dumps(
    {"media_url": "http://127.0.0.1:9/clip.mp4", "prompt": "What happens in this clip?"}
).encode()


class PacedWriter:
    """``threads`` clients POSTing submissions over keep-alive connections at about
    ``rate`` a second in all, every answer kept. The client timeout is long (30 s)
    on purpose: a request that waits on a socket or pool timeout shows as a long
    latency instead of being cut short here."""

    def __init__(self, port: int, token: str, rate: float, threads: int = 4):
        self.port, self.rate, self.threads = port, rate, threads
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def __enter__(self) -> PacedWriter:
        for number in range(self.threads):
            thread = threading.Thread(target=self._run, args=(number,), daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout=40)

    def _run(self, number: int) -> None:
        interval = self.threads / self.rate
        next_at = time.monotonic() + interval * number / self.threads
        connection = None
        while not self._stop.is_set():
            pause = next_at - time.monotonic()
            if pause > 0 and self._stop.wait(pause):
                break
            # Behind (a slow answer): no catching-up burst, the pace starts again.
            next_at = max(next_at + interval, time.monotonic())
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            answer, keep = self._one(connection)
            with self._lock:
                self.answers.append(answer)
            if not keep:
                connection.close()
                connection = None
        if connection is not None:
            connection.close()

    def _one(self, connection: http.client.HTTPConnection) -> tuple[Answer, bool]:
        started = time.monotonic()
        try:
            connection.request("POST", "/api/media/analyze", body=SUBMISSION, headers=self.headers)
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            return Answer(started, time.monotonic() - started, 0, error=type(exc).__name__), False
        elapsed = time.monotonic() - started
        request_id = None
        if response.status == 202:
            request_id = json.loads(body).get("id")
        keep = not response.will_close
        return Answer(
            started, elapsed, response.status, response.getheader("Retry-After"), None, request_id
        ), keep

    def between(self, start: float, end: float) -> list[Answer]:
        with self._lock:
            return [answer for answer in self.answers if start <= answer.at < end]


# ---------------------------------------------------------------------- stats
def percentile_ms(seconds: Iterable[float], fraction: float) -> float:
    ordered = sorted(seconds)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index] * 1000


@dataclass
class Summary:
    """Requests of one kind in one phase: rate, latency percentiles, statuses."""

    count: int
    rate: float
    p50: float
    p95: float
    p99: float
    max: float
    statuses: Counter = field(default_factory=Counter)

    def line(self, name: str) -> str:
        statuses = " ".join(
            f"{status or 'none'}:{n}" for status, n in sorted(self.statuses.items(), key=str)
        )
        return (
            f"  {name:<22} {self.rate:7.0f} req/s  p50 {self.p50:6.1f}  p95 {self.p95:6.1f}"
            f"  p99 {self.p99:6.1f}  max {self.max:7.1f} ms  ({self.count})  {statuses}"
        )


def summarise(answers: list[Answer], seconds: float) -> Summary:
    times = [answer.seconds for answer in answers]
    return Summary(
        count=len(answers),
        rate=len(answers) / seconds if seconds else 0.0,
        p50=percentile_ms(times, 0.50),
        p95=percentile_ms(times, 0.95),
        p99=percentile_ms(times, 0.99),
        max=max(times, default=0.0) * 1000,
        statuses=Counter(answer.status for answer in answers),
    )


def summarise_wrk(run: WrkRun) -> Summary:
    """wrk keeps 1,000 percentiles, not every answer: its "max" is the 99.95th."""
    non_2xx = run.non_2xx
    statuses = Counter({"2xx": run.requests - non_2xx, "non-2xx": non_2xx})
    statuses.update({f"socket-{kind}": n for kind, n in run.errors.items() if kind != "status"})
    return Summary(
        count=run.requests,
        rate=run.rate,
        p50=run.percentile_ms(0.50),
        p95=run.percentile_ms(0.95),
        p99=run.percentile_ms(0.99),
        max=max((value for value, _ in run.points), default=0.0) / 1000,
        statuses=+statuses,
    )
