"""gunicorn's own log lines (errors and access) as JSON, like the application's.

``gunicorn.conf.py`` selects this logger class when ``LOG_FORMAT=json`` (the
default). Error lines keep gunicorn's messages; each access line becomes one
object with the request's method, path, status, size, duration, client and the
``request_id`` / ``correlation_id`` our middleware put on the response, so it joins
the Django and Celery lines of the same request. No Django import here: the
gunicorn master loads this before any application code.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger

from media_analysis.logging import JsonFormatter


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
        headers = {name.lower(): value for name, value in resp.headers}
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        fields = {
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(status) if str(status).isdigit() else status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "remote_addr": environ.get("REMOTE_ADDR"),
            "request_id": headers.get("x-request-id"),
            "correlation_id": headers.get("x-correlation-id"),
        }
        try:
            self.access_log.info(
                "%s %s %s",
                fields["method"],
                fields["path"],
                fields["status"],
                extra={k: v for k, v in fields.items() if v is not None},
            )
        except Exception:
            logging.getLogger("gunicorn.error").exception("could not write an access line")
