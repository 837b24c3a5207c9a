"""Structured (one JSON object per line) log output."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is kept.
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def timestamp(seconds: float) -> str:
    """A line's time: ISO 8601 in UTC, to the millisecond."""
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class QuietRoutineTasks(logging.Filter):
    """Drops Celery's INFO lines (sent, received, succeeded) about the tasks beat
    runs every few seconds (``ROUTINE_TASKS``): 25,000 lines a day that say nothing.
    Those tasks log a line of their own when they do something, and their warnings
    and errors pass as ever."""

    ROUTINE_TASKS = ("analysis.tasks.recover_requests",)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not record.name.startswith("celery."):
            return True
        message = record.getMessage()
        return not any(task in message for task in self.ROUTINE_TASKS)
