"""The Celery application, configured from Django settings (namespace ``CELERY``).

Worker and beat log exactly like the web: Django's ``LOGGING`` (one JSON object per
line with ``LOG_FORMAT=json``), each line of a task carrying the correlation id,
the submitting HTTP request's id and the analysis id it was sent with. Celery
would otherwise replace the root handlers with its own plain-text ones and print
a multi-line banner; with JSON logs the banner becomes one log line. Each task
runs in the request context it was sent from (``media_analysis.task_context``).
"""

from __future__ import annotations

import logging
import os
from functools import cached_property
from typing import Any

from celery import Celery, Task
from celery.apps.beat import Beat
from celery.apps.worker import Worker
from celery.signals import celeryd_init, setup_logging
from celery.worker.request import Request

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "media_analysis.settings")

from media_analysis.task_context import connect_celery_context, remember_message_context

logger = logging.getLogger("media_analysis.celery")


class ContextRequest(Request):
    """Remembers a message's ids before the worker logs that it received it, so
    that line carries them too (see ``media_analysis.context.LogContextFilter``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        remember_message_context(self.id, self._request_dict)


class ContextTask(Task):
    Request = ContextRequest
    # Who the task's changes are made by in the audit log: declared with each task
    # (``@shared_task(audit_actor="system:cleanup")``); unset, "system:task:<name>".
    audit_actor: str | None = None


def _json_logs() -> bool:
    from django.conf import settings

    return settings.LOG_FORMAT == "json"


class JsonAwareWorker(Worker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Gossip and mingle are worker-to-worker chatter over the broker (heartbeats,
        # clock and revoked-task sync at start) that nothing here uses: tasks are
        # never revoked, state lives in PostgreSQL. Gossip also logged an ERROR with
        # a traceback ("Error on restarting Gossip") each time the worker reconnected
        # after Redis came back (benchmarks/load_faults.py --scenario redis-kill).
        kwargs["without_gossip"] = True
        kwargs["without_mingle"] = True
        super().__init__(*args, **kwargs)

    def emit_banner(self) -> None:
        if not _json_logs():
            return super().emit_banner()
        logger.info(
            "celery worker starting",
            extra={
                "hostname": self.hostname,
                "queues": sorted(self.app.amqp.queues.consume_from),
                "concurrency": self.concurrency,
                "pool": getattr(self.pool_cls, "__module__", str(self.pool_cls)),
            },
        )


class JsonAwareBeat(Beat):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._json = _json_logs()
        self.quiet = self.quiet or self._json  # no plain-text banner

    def setup_logging(self, colorize: bool | None = None) -> None:
        super().setup_logging(colorize)
        if self._json:
            logger.info(
                "celery beat starting",
                extra={"schedule": self.schedule, "max_interval": self.max_interval},
            )


class MediaAnalysisCelery(Celery):
    @cached_property
    def Worker(self) -> type[Worker]:
        return self.subclass_with_self(JsonAwareWorker)

    @cached_property
    def Beat(self) -> type[Beat]:
        return self.subclass_with_self(JsonAwareBeat)


@setup_logging.connect(weak=False, dispatch_uid="media_analysis.celery_logging")
def use_django_logging(loglevel: int | str | None = None, **kwargs: Any) -> None:
    """Celery calls this instead of configuring logging itself (worker, beat and
    each pool process). ``-l`` may make the output more verbose than LOG_LEVEL,
    never quieter."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
    logging.captureWarnings(True)  # warnings become log lines too
    root = logging.getLogger()
    if isinstance(loglevel, str):
        loglevel = logging.getLevelName(loglevel.upper())
    if isinstance(loglevel, int):
        root.setLevel(min(root.level, loglevel))


@celeryd_init.connect(weak=False, dispatch_uid="media_analysis.celery_early_logging")
def log_worker_start_up(**kwargs: Any) -> None:
    """The worker warns (running as root, say) and, on a signal, says it is shutting
    down before and outside its logging set-up: route both through ours."""
    use_django_logging()
    if _json_logs():
        import celery.apps.worker

        say = logging.getLogger("celery.apps.worker")
        celery.apps.worker.safe_say = lambda msg, f=None: say.warning(str(msg).strip())


app = MediaAnalysisCelery("media_analysis", task_cls=ContextTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

connect_celery_context()
