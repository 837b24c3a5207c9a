"""gunicorn's own log lines (errors and access) as JSON, like the application's.

``gunicorn.conf.py`` selects this logger class when ``LOG_FORMAT=json`` (the
default). Error lines keep gunicorn's messages; each access line becomes one
object with the request's method, path, status, size, duration, client and the
``request_id`` / ``correlation_id`` our middleware put on the response, so it joins
the Django and Celery lines of the same request. No Django import here: the
gunicorn master loads this before any application code.

An access line is written on every request, the status poll's included, so it is
built directly (one ``json.dumps``) rather than through a ``LogRecord``, its
filters and the formatter: a third of the cost (``JsonFormatter`` looks at every
attribute of a record).

And lines are written in batches, as nginx's ``access_log ... buffer= flush=``
does: a request thread only queues its line; a thread per worker writes what is
queued every ``GUNICORN_ACCESS_LOG_FLUSH_SECONDS`` (1 s by default), in one write,
and at once when the queue passes ``FLUSH_AT_LINES``. A write and a flush per
request, under the handler's lock that the worker's threads queued on, cost the
status poll a sixth of its throughput (``benchmarks/status_poll_vs_bare.py``).
What is queued is written when the worker exits (gunicorn's ``worker_exit`` hook
in ``gunicorn.conf.py``, and ``atexit``) and before a log file is reopened (USR1);
a worker killed with SIGKILL loses at most the last interval's lines. ``0``
writes every line at once, as before.
"""

from __future__ import annotations

import atexit
import collections
import json
import logging
import os
import threading
import time
from typing import Any

from gunicorn.glogging import Logger

from media_analysis.logging import JsonFormatter, timestamp

ACCESS_LOGGER = "gunicorn.access"
FLUSH_SECONDS_ENV = "GUNICORN_ACCESS_LOG_FLUSH_SECONDS"
DEFAULT_FLUSH_SECONDS = 1.0
MAX_FLUSH_SECONDS = 60.0
# Past this many queued lines the request thread that queued the last one writes
# them all: memory stays bounded whatever the rate.
FLUSH_AT_LINES = 5000


def flush_seconds_from_env() -> float:
    """GUNICORN_ACCESS_LOG_FLUSH_SECONDS: 0 (every line at once) to 60 seconds."""
    raw = os.environ.get(FLUSH_SECONDS_ENV, "").strip()
    if not raw:
        return DEFAULT_FLUSH_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_FLUSH_SECONDS:  # also refuses nan
        raise SystemExit(
            f"{FLUSH_SECONDS_ENV}={raw!r} must be a number of seconds from 0 to"
            f" {MAX_FLUSH_SECONDS:g}"
        )
    return seconds


class JsonLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        formatter = JsonFormatter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)
        if not hasattr(self, "_queued"):  # setup runs again on SIGHUP: keep the queue
            self._queued = QueuedLines(self.access_log, flush_seconds_from_env())

    def flush_access_lines(self) -> None:
        """Write every queued access line now (a worker's exit, a reopen)."""
        self._queued.write_all()

    def reopen_files(self) -> None:
        self._queued.write_all()  # into the file being rotated away, not the new one
        super().reopen_files()

    def access(self, resp: Any, req: Any, environ: dict, request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        try:
            fields = access_fields(resp, environ, request_time.total_seconds())
            message = f"{fields['method']} {fields['path']} {fields['status']}"
            queued = False
            for handler in self.access_log.handlers:
                if getattr(handler, "stream", None) is None:  # syslog, say: it formats
                    record = self.access_log.makeRecord(
                        ACCESS_LOGGER, logging.INFO, "", 0, message, (), None, extra=fields
                    )
                    handler.handle(record)
                elif not queued:  # one line for every handler with a stream
                    self._queued.add(_line(message, fields))
                    queued = True
        except Exception:
            logging.getLogger("gunicorn.error").exception("could not write an access line")


class QueuedLines:
    """Access lines waiting for their write, written in batches to every handler
    with a stream by a thread of the worker's own (see the module's docstring)."""

    def __init__(self, log: logging.Logger, interval: float) -> None:
        self.log = log
        self.interval = interval
        self._lines: collections.deque[str] = collections.deque()
        self._writer_pid: int | None = None  # the process whose writer thread runs
        self._write_lock = threading.Lock()

    def add(self, line: str) -> None:
        if self.interval == 0:
            self._write([line])
            return
        self._lines.append(line)  # deque.append: atomic, no lock taken
        if self._writer_pid != os.getpid():  # the first line of this process
            self._start_writer()
        if len(self._lines) >= FLUSH_AT_LINES:
            self.write_all()

    def write_all(self) -> None:
        # One writer at a time, so lines keep their order; popleft is atomic, so
        # lines queued meanwhile wait for the next write.
        with self._write_lock:
            lines = []
            while True:
                try:
                    lines.append(self._lines.popleft())
                except IndexError:
                    break
            if lines:
                self._write(lines)

    def _start_writer(self) -> None:
        with self._write_lock:
            if self._writer_pid == os.getpid():
                return
            self._writer_pid = os.getpid()
            threading.Thread(target=self._run, name="access-log-writer", daemon=True).start()
            atexit.register(self.write_all)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                self.write_all()
            except Exception:  # never let the writer die: the next interval retries
                logging.getLogger("gunicorn.error").exception("could not write access lines")

    def _write(self, lines: list[str]) -> None:
        for handler in self.log.handlers:
            # The stream is looked up each time (gunicorn reopens it on USR1), under
            # the handler's lock as emit() takes it.
            if getattr(handler, "stream", None) is None:
                continue
            with handler.lock:
                handler.stream.write(handler.terminator.join(lines) + handler.terminator)
                handler.stream.flush()


def access_fields(resp: Any, environ: dict, seconds: float) -> dict[str, Any]:
    """What an access line says about one exchange (fields without a value left out)."""
    request_id = correlation_id = None
    for name, value in resp.headers:
        lowered = name.lower()
        if lowered == "x-request-id":
            request_id = value
        elif lowered == "x-correlation-id":
            correlation_id = value
    status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
    fields = {
        "method": environ.get("REQUEST_METHOD"),
        "path": environ.get("PATH_INFO"),
        "status": int(status) if str(status).isdigit() else status,
        "bytes": getattr(resp, "sent", None),
        "duration_ms": round(seconds * 1000, 1),
        "remote_addr": environ.get("REMOTE_ADDR"),
        "request_id": request_id,
        "correlation_id": correlation_id,
    }
    return {name: value for name, value in fields.items() if value is not None}


def _line(message: str, fields: dict[str, Any]) -> str:
    """The line ``JsonFormatter`` would make of a record with these fields."""
    head = {"ts": timestamp(time.time()), "level": "info", "logger": ACCESS_LOGGER}
    return json.dumps({**head, "message": message, **fields}, default=str)
