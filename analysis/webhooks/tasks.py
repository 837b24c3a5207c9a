"""Celery entry points for webhooks: an id in, a plain function called. Thin."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from analysis.webhooks import delivery, events, retention

SYSTEM_ACTOR = "system:webhooks"


@shared_task(
    audit_actor=SYSTEM_ACTOR,
    autoretry_for=(OperationalError, InterfaceError),  # the database was away: try later
    retry_backoff=5,
    retry_jitter=True,
    max_retries=5,
)
def deliver_webhook(delivery_id: str) -> dict:
    """One attempt; the next one (if any) is scheduled by the attempt itself."""
    report = delivery.attempt(delivery_id)
    return {**asdict(report), "next_attempt_at": str(report.next_attempt_at or "")}


@shared_task(audit_actor=SYSTEM_ACTOR)
def dispatch_due_webhooks() -> int:
    """Beat: publish deliveries that are due with no message on its way."""
    return events.dispatch_due()


@shared_task(audit_actor=SYSTEM_ACTOR)
def prune_webhook_deliveries() -> dict:
    """Beat, daily: finished deliveries older than WEBHOOK_DELIVERY_RETENTION_DAYS
    go, with their attempts (0 keeps them forever)."""
    days = settings.WEBHOOK_DELIVERY_RETENTION_DAYS
    if not days:
        return {"deliveries": 0, "attempts": 0}
    return retention.prune_deliveries(
        older_than_days=days, batch_size=settings.WEBHOOK_PRUNE_BATCH_SIZE
    )
