"""gunicorn's JSON access line (media_analysis/gunicorn_logging.py): written directly
for speed, it must say what JsonFormatter would say of the same record, and a
handler without a stream (syslog) still gets a record it can format."""

from __future__ import annotations

import datetime
import json
import logging
import threading

from gunicorn.config import Config

from media_analysis.gunicorn_logging import ACCESS_LOGGER, JsonLogger
from media_analysis.logging import JsonFormatter

ENVIRON = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/media/history", "REMOTE_ADDR": "10.0.0.7"}


class Response:
    status = "404 Not Found"
    headers = [
        ("Content-Type", "application/json"),
        ("X-Request-ID", "r-1"),
        ("X-Correlation-ID", "c-1"),
    ]
    sent = 58


class Collecting(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def logger_to(path) -> JsonLogger:
    config = Config()
    config.set("accesslog", str(path))
    return JsonLogger(config)


def test_an_access_line_is_what_the_formatter_makes_of_the_same_record(tmp_path):
    log = logger_to(tmp_path / "access.log")
    log.access(Response(), None, ENVIRON, datetime.timedelta(milliseconds=12.34))
    written = json.loads((tmp_path / "access.log").read_text())

    collecting = Collecting()
    log.access_log.handlers = [collecting]
    log.access(Response(), None, ENVIRON, datetime.timedelta(milliseconds=12.34))
    formatted = json.loads(JsonFormatter().format(collecting.records[0]))

    assert written.pop("ts")[:10] == formatted.pop("ts")[:10]
    assert written == formatted
    assert written == {
        "level": "info",
        "logger": ACCESS_LOGGER,
        "message": "GET /api/media/history 404",
        "method": "GET",
        "path": "/api/media/history",
        "status": 404,
        "bytes": 58,
        "duration_ms": 12.3,
        "remote_addr": "10.0.0.7",
        "request_id": "r-1",
        "correlation_id": "c-1",
    }


def test_lines_from_many_threads_never_interleave(tmp_path):
    log = logger_to(tmp_path / "access.log")

    def write_many() -> None:
        for _ in range(500):
            log.access(Response(), None, ENVIRON, datetime.timedelta(milliseconds=1))

    threads = [threading.Thread(target=write_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = (tmp_path / "access.log").read_text().splitlines()
    assert len(lines) == 4000
    assert all(json.loads(line)["status"] == 404 for line in lines)
