"""gunicorn's JSON access line (media_analysis/gunicorn_logging.py): written directly
for speed, it must say what JsonFormatter would say of the same record, and a
handler without a stream (syslog) still gets a record it can format. Lines are
queued and written in batches: by the writer thread within the interval, at once
past FLUSH_AT_LINES, on demand (a worker's exit, a reopen), or each at once with
an interval of 0. The real gunicorn's exit is in
tests/operations/test_access_log_batches.py."""

from __future__ import annotations

import datetime
import json
import logging
import threading

import pytest
from gunicorn.config import Config

from media_analysis import gunicorn_logging
from media_analysis.gunicorn_logging import ACCESS_LOGGER, FLUSH_SECONDS_ENV, JsonLogger
from media_analysis.logging import JsonFormatter
from tests.conftest import wait_until

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


def access(log: JsonLogger, times: int = 1) -> None:
    for _ in range(times):
        log.access(Response(), None, ENVIRON, datetime.timedelta(milliseconds=12.34))


def written_lines(path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_an_access_line_is_what_the_formatter_makes_of_the_same_record(tmp_path):
    log = logger_to(tmp_path / "access.log")
    access(log)
    log.flush_access_lines()
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
    log.flush_access_lines()
    lines = (tmp_path / "access.log").read_text().splitlines()
    assert len(lines) == 4000
    assert all(json.loads(line)["status"] == 404 for line in lines)


# ------------------------------------------------------------------ batches
def test_queued_lines_are_written_by_the_writer_thread_within_the_interval(tmp_path, monkeypatch):
    monkeypatch.setenv(FLUSH_SECONDS_ENV, "0.2")
    path = tmp_path / "access.log"
    log = logger_to(path)
    access(log, 3)
    assert written_lines(path) == []  # queued, not yet written
    wait_until(lambda: len(written_lines(path)) == 3, 2, "the writer thread")
    access(log, 2)
    wait_until(lambda: len(written_lines(path)) == 5, 2, "the next batch")


def test_a_full_queue_is_written_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv(FLUSH_SECONDS_ENV, "60")
    monkeypatch.setattr(gunicorn_logging, "FLUSH_AT_LINES", 10)
    path = tmp_path / "access.log"
    log = logger_to(path)
    access(log, 9)
    assert written_lines(path) == []
    access(log)
    assert len(written_lines(path)) == 10


def test_an_interval_of_zero_writes_each_line_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv(FLUSH_SECONDS_ENV, "0")
    path = tmp_path / "access.log"
    log = logger_to(path)
    access(log)
    assert len(written_lines(path)) == 1


def test_queued_lines_go_to_the_old_file_before_a_reopen(tmp_path, monkeypatch):
    monkeypatch.setenv(FLUSH_SECONDS_ENV, "60")
    path = tmp_path / "access.log"
    log = logger_to(path)
    access(log, 2)
    path.rename(tmp_path / "access.log.1")  # logrotate moves the file, then USR1
    log.reopen_files()
    access(log)
    log.flush_access_lines()
    assert len(written_lines(tmp_path / "access.log.1")) == 2
    assert len(written_lines(path)) == 1


@pytest.mark.parametrize("junk", ["soon", "-1", "61", "nan"])
def test_a_junk_interval_stops_gunicorn_with_the_setting_named(tmp_path, monkeypatch, junk):
    monkeypatch.setenv(FLUSH_SECONDS_ENV, junk)
    with pytest.raises(SystemExit, match=FLUSH_SECONDS_ENV):
        logger_to(tmp_path / "access.log")
