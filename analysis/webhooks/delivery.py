"""One attempt of a delivery, and what its answer means.

- 2xx: delivered (the endpoint's failure streak ends);
- 410 Gone: a registered endpoint is disabled (its owner sees why in
  ``GET /api/webhooks``); a callback is not tried again;
- anything else (another status, a redirect, a timeout, a refused address): tried
  again after 5 s, 30 s, 2 min, 10 min, 1 h, 3 h, 6 h, 6 h ... (WEBHOOK_RETRY_DELAYS,
  jittered so a receiver back from an outage is not hit by every sender at once),
  until WEBHOOK_RETRY_WINDOW_SECONDS (24 h) after the event, with one last attempt
  at its end. An endpoint whose attempts have failed for WEBHOOK_DISABLE_AFTER_SECONDS
  (3 days) without a success is disabled.

Every attempt is a ``WebhookAttempt`` row. The delivery is claimed for the attempt
with a conditional update, so a duplicate message (the broker redelivered, beat
published too) finds nothing to do: at least once, rarely twice, never in parallel.
The secret is decrypted for the signature only; it is never logged.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from analysis.webhooks import events, http, metrics, signing, vault
from analysis.webhooks.models import (
    CALLBACK_TARGET,
    AttemptOutcome,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from analysis.webhooks.registry import callback_secret_for, disable_endpoint, endpoint_secret

logger = logging.getLogger(__name__)

# Longer than one attempt can take (the timeout, plus the bookkeeping around it).
ATTEMPT_LEASE = timedelta(seconds=120)
JITTER = 0.2
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class AttemptReport:
    """What one attempt did (the task's return value, the tests' view)."""

    delivery_id: str
    outcome: str  # an AttemptOutcome, or "not_due" when there was nothing to do
    status_code: int | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None


def attempt(delivery_id: str | uuid.UUID) -> AttemptReport:
    vault.require_key()  # before claiming: without the key the delivery stays due
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(attempting_until__isnull=True) | Q(attempting_until__lt=now))
        .update(attempting_until=now + ATTEMPT_LEASE)
    )
    if not claimed:
        return AttemptReport(str(delivery_id), "not_due")
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if delivery.target != CALLBACK_TARGET and (endpoint is None or not endpoint.enabled):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.CANCELLED, next_attempt_at=None, attempting_until=None
        )
        return AttemptReport(str(delivery_id), "cancelled")

    if endpoint is not None:
        secret, url = endpoint_secret(endpoint), endpoint.url
    else:
        secret, url = callback_secret_for(delivery.owner_id), delivery.url
    body = delivery.payload.encode()
    headers = {
        **signing.signed_headers(secret, delivery.webhook_id, body),
        "webhook-event": delivery.event,
    }
    del secret
    result = http.post(url, body, headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    return _record(delivery, endpoint, result, attempted_at=now)


def _record(
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint | None,
    result: http.PostResult,
    *,
    attempted_at: datetime,
) -> AttemptReport:
    now = timezone.now()
    code, error = result.status_code, (result.error or "")[:MAX_ERROR_CHARS] or None
    next_at: datetime | None = None
    with transaction.atomic():
        if code is not None and 200 <= code < 300:
            outcome, status = AttemptOutcome.DELIVERED, DeliveryStatus.DELIVERED
            if endpoint is not None:
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        elif code == 410:
            outcome, status = _gone(delivery, endpoint, now)
        else:
            outcome, status, next_at = _failed(delivery, endpoint, error, now)
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts + 1,
            attempted_at=attempted_at,
            status_code=code,
            duration_ms=result.duration_ms,
            error=error,
            outcome=outcome,
            next_attempt_at=next_at,
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=status,
            attempts=delivery.attempts + 1,
            next_attempt_at=next_at,
            attempting_until=None,
            queued_until=None,
            last_status_code=code,
            last_error=error,
            delivered_at=now if status == DeliveryStatus.DELIVERED else None,
        )
        if next_at is not None:
            transaction.on_commit(lambda: events.schedule(delivery.pk, next_at))
    metrics.record_attempt(
        outcome.value,
        result.duration_ms / 1000,
        delivered_after=(now - delivery.created_at).total_seconds()
        if outcome == AttemptOutcome.DELIVERED
        else None,
    )
    logger.info(
        "webhook attempt",
        extra={
            "analysis_id": str(delivery.request_id),
            "webhook_id": delivery.webhook_id,
            "event": delivery.event,
            "target": "callback" if endpoint is None else str(endpoint.id),
            "status_code": code,
            "outcome": outcome.value,
            "duration_ms": result.duration_ms,
        },
    )
    return AttemptReport(str(delivery.pk), outcome.value, code, error, next_at)


def _gone(
    delivery: WebhookDelivery, endpoint: WebhookEndpoint | None, now: datetime
) -> tuple[AttemptOutcome, str]:
    if endpoint is None:  # a callback URL that is gone: nothing to disable, stop trying
        return AttemptOutcome.GAVE_UP, DeliveryStatus.FAILED
    disable_endpoint(endpoint, f"The endpoint answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC.", now)
    return AttemptOutcome.DISABLED, DeliveryStatus.CANCELLED


def _failed(
    delivery: WebhookDelivery, endpoint: WebhookEndpoint | None, error: str | None, now: datetime
) -> tuple[AttemptOutcome, str, datetime | None]:
    if endpoint is not None:
        failing_since = endpoint.failing_since or now
        if endpoint.failing_since is None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
                failing_since=now
            )
        limit = timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS)
        if now - failing_since >= limit:
            disable_endpoint(
                endpoint,
                f"Every attempt since {failing_since:%Y-%m-%d %H:%M} UTC failed "
                f"(the last: {error or 'no answer'}).",
                now,
            )
            return AttemptOutcome.DISABLED, DeliveryStatus.CANCELLED, None
    next_at = next_attempt_at(delivery.attempts + 1, delivery.window_started_at, now)
    if next_at is None:
        return AttemptOutcome.GAVE_UP, DeliveryStatus.FAILED, None
    return AttemptOutcome.RETRYING, DeliveryStatus.PENDING, next_at


def next_attempt_at(failed_attempts: int, window_start: datetime, now: datetime) -> datetime | None:
    """When to try after ``failed_attempts`` failures: the schedule's wait for that
    many (its last one repeating), jittered, and never past the window's end, where
    one last attempt is made; None once that one has failed too."""
    end = window_start + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS)
    if now >= end:
        return None
    delays = settings.WEBHOOK_RETRY_DELAYS
    wait = delays[min(failed_attempts, len(delays)) - 1]
    wait *= random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 (spreading load, not secrecy)
    return min(now + timedelta(seconds=wait), end)


def redeliver(delivery_ids: list[uuid.UUID]) -> tuple[int, list[str]]:
    """Staff's redelivery: the same webhook-id and payload, a fresh retry window.
    Returns how many were queued and why the others were not."""
    now = timezone.now()
    queued, refused = [], []
    for delivery in WebhookDelivery.objects.filter(pk__in=delivery_ids).select_related("endpoint"):
        if delivery.target != CALLBACK_TARGET and (
            delivery.endpoint is None or not delivery.endpoint.enabled
        ):
            refused.append(f"{delivery.webhook_id}: its endpoint is disabled or deleted.")
            continue
        queued.append(delivery.pk)
    WebhookDelivery.objects.filter(pk__in=queued).update(
        status=DeliveryStatus.PENDING,
        next_attempt_at=now,
        window_started_at=now,
        attempting_until=None,
        queued_until=None,
    )
    transaction.on_commit(lambda: events.publish(queued))
    return len(queued), refused
