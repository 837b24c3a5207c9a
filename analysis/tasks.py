"""Celery entry points for analyses: they take an id and nothing else, and call
the pipeline or the services. Thin on purpose."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import InterfaceError, OperationalError

from analysis import outbox, recovery
from analysis.pipeline import run_analysis
from analysis.webhooks import tasks as webhook_tasks  # noqa: F401 (the worker registers them)

logger = logging.getLogger(__name__)

# Who the analysis tasks' changes are made by in the audit log.
SYSTEM_ACTOR = "system:pipeline"


@shared_task(
    bind=True,
    audit_actor=SYSTEM_ACTOR,
    autoretry_for=(OperationalError, InterfaceError),  # the database was away: try later
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=10,
)
def analyse_request(self, request_id: str) -> str:
    outcome = run_analysis(request_id)
    logger.info("analysis task finished", extra={"analysis_id": request_id, "outcome": outcome})
    return outcome


@shared_task(audit_actor=SYSTEM_ACTOR)
def recover_requests() -> dict[str, int]:
    """Beat, every few seconds, and each worker as it starts: publish what the
    outbox holds (the broker was away), take over what dead workers dropped."""
    return {**outbox.flush(), **recovery.recover_abandoned()}


@worker_ready.connect(dispatch_uid="analysis.recover_on_worker_start")
def _recover_on_worker_start(sender=None, **kwargs) -> None:
    # A worker coming back after a crash picks up its own leftovers at once,
    # without waiting for beat's next tick.
    try:
        recover_requests.apply_async()
    except Exception:  # the broker went away again: beat will do it
        logger.warning("could not queue the start-up recovery", exc_info=True)
