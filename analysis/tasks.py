"""Celery entry points for analyses: they take an id and nothing else, and call
the pipeline or the services. Thin on purpose."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:pipeline"


@shared_task(
    bind=True,
    autoretry_for=(OperationalError, InterfaceError),  # the database was away: try later
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=10,
)
def analyse_request(self, request_id: str) -> str:
    from analysis.pipeline import run_analysis

    outcome = run_analysis(request_id)
    logger.info("analysis task finished", extra={"request_id": request_id, "outcome": outcome})
    return outcome


@shared_task
def requeue_stalled_requests() -> dict[str, int]:
    """Beat: give orphaned work a new chance. See ``services.requeue_stalled``."""
    from analysis.services import requeue_stalled

    counts = requeue_stalled(
        stuck_before=timezone.now()
        - timedelta(seconds=settings.MEDIA_ANALYSIS_STUCK_AFTER_SECONDS),
        pending_before=timezone.now()
        - timedelta(seconds=settings.MEDIA_ANALYSIS_PENDING_REQUEUE_SECONDS),
    )
    if any(counts.values()):
        logger.warning("requeued stalled requests", extra=counts)
    return counts
