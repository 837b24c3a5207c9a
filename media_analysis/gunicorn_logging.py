"""gunicorn's own log lines (errors and access) as JSON, like the application's.

``gunicorn.conf.py`` selects this logger class when ``LOG_FORMAT=json`` (the
default). Error lines keep gunicorn's messages; each access line becomes one
object with the request's method, path, status, size, duration, client and the
``request_id`` / ``correlation_id`` our middleware put on the response, so it joins
the Django and Celery lines of the same request. No Django import here: the
gunicorn master loads this before any application code.

An access line is written on every request, the status poll's included, so it is
built and written directly (one ``json.dumps``, one write under the handler's
lock) rather than through a ``LogRecord``, its filters and the formatter: a third
of the cost (``JsonFormatter`` looks at every attribute of a record).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from gunicorn.glogging import Logger

from media_analysis.logging import JsonFormatter, timestamp

ACCESS_LOGGER = "gunicorn.access"


class JsonLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        formatter = JsonFormatter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)

    def access(self, resp: Any, req: Any, environ: dict, request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        try:
            fields = access_fields(resp, environ, request_time.total_seconds())
            message = f"{fields['method']} {fields['path']} {fields['status']}"
            line = None
            for handler in self.access_log.handlers:
                stream = getattr(handler, "stream", None)
                if stream is None:  # syslog, say: the handler formats and sends
                    record = self.access_log.makeRecord(
                        ACCESS_LOGGER, logging.INFO, "", 0, message, (), None, extra=fields
                    )
                    handler.handle(record)
                    continue
                if line is None:
                    line = _line(message, fields)
                # The handler's lock, as emit() takes it: the worker's threads never
                # interleave lines. The stream is looked up each time (gunicorn
                # reopens it on USR1).
                with handler.lock:
                    stream.write(line + handler.terminator)
                    stream.flush()
        except Exception:
            logging.getLogger("gunicorn.error").exception("could not write an access line")


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
