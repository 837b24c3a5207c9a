"""Celery entry points for webhooks: an id in, a plain function called. Thin."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task
from django.db import InterfaceError, OperationalError

from analysis.webhooks import delivery, events

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
