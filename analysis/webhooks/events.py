"""From a state change to deliveries, in the change's own transaction.

``analysis.transitions.move`` sends ``request_state_changing`` while the caller's
transaction is open. Entering completed, failed or cancelled (not a restore from
deleted) creates one delivery per target, each holding the request's status JSON
as ``GET /api/media/status/{id}`` answers it at that moment; they commit or roll
back with the change, so an event is never lost between commit and publish. After
the commit their tasks are published; a delivery whose message never reached the
broker is published by beat (``dispatch_due``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from analysis import outbox
from analysis.api.serializers import StatusSerializer
from analysis.batches.models import AnalysisBatch
from analysis.batches.serializers import batch_body
from analysis.models import AnalysisRequest, AnalysisResult, AnalysisStatus
from analysis.webhooks.models import (
    CALLBACK_TARGET,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEvent,
)
from analysis.webhooks.registry import endpoints_for_event
from media_analysis.resilience import breaker_states

logger = logging.getLogger(__name__)

DELIVER_TASK = "analysis.webhooks.tasks.deliver_webhook"
EVENT_BY_STATE = {
    AnalysisStatus.COMPLETED: WebhookEvent.REQUEST_COMPLETED,
    AnalysisStatus.FAILED: WebhookEvent.REQUEST_FAILED,
    AnalysisStatus.CANCELLED: WebhookEvent.REQUEST_CANCELLED,
}
# Waits up to this long go to the broker as a countdown; longer ones wait in the
# table for beat (a Redis broker redelivers messages held past its visibility timeout).
COUNTDOWN_MAX_SECONDS = 300
SWEEP_BATCH = 200


def on_state_changing(
    sender: Any, request: AnalysisRequest, previous: str | None, state: str, **kwargs: Any
) -> None:
    event = EVENT_BY_STATE.get(state)
    if event is None or previous == AnalysisStatus.DELETED:
        return  # not an ending (a restore brings back an old one: announced then)
    try:
        # A savepoint: a webhook fault must not undo the ending it announces (the
        # analysis and its result matter more than one notice of it).
        with transaction.atomic():
            create_deliveries(request, event.value)
    except Exception as exc:
        logger.error(
            "webhook deliveries not created: %s",
            type(exc).__name__,
            extra={"analysis_id": str(request.id), "event": event.value},
            exc_info=True,
        )


def create_deliveries(request: AnalysisRequest, event: str) -> list[WebhookDelivery]:
    return _create(
        subject={"request_id": request.id, "occurrence": request.retry_count or 0},
        owner_id=request.owner_id,
        event=event,
        callback_url=(request.metadata or {}).get("callback_url"),
        payload=lambda: status_body(request.id),
        log_extra={"analysis_id": str(request.id)},
    )


def create_batch_deliveries(batch: AnalysisBatch) -> list[WebhookDelivery]:
    """``batch.completed`` to the owner's endpoints and the batch's callback_url,
    with the batch's progress JSON (``GET /api/media/batch/{id}``) as the body."""
    return _create(
        subject={"batch_id": batch.id},
        owner_id=batch.owner_id,
        event=WebhookEvent.BATCH_COMPLETED.value,
        callback_url=batch.callback_url,
        payload=lambda: batch_body(batch),
        log_extra={"batch_id": str(batch.id)},
    )


def _create(
    *,
    subject: dict[str, Any],
    owner_id: int | None,
    event: str,
    callback_url: str | None,
    payload: Callable[[], bytes],
    log_extra: dict[str, str],
) -> list[WebhookDelivery]:
    endpoints = list(endpoints_for_event(owner_id, event))
    if not endpoints and not callback_url:
        return []
    now = timezone.now()
    common = {
        **subject,
        "event": event,
        "payload": payload().decode(),
        "next_attempt_at": now,
        "window_started_at": now,
    }
    rows = [
        WebhookDelivery(
            **common, target=f"endpoint:{endpoint.id}", endpoint=endpoint, url=endpoint.url
        )
        for endpoint in endpoints
    ]
    if callback_url:
        rows.append(
            WebhookDelivery(**common, target=CALLBACK_TARGET, owner_id=owner_id, url=callback_url)
        )
    # Already there (the same ending announced twice): the first stays, once.
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    ids = [row.id for row in rows]
    transaction.on_commit(lambda: publish(ids))
    logger.info(
        "webhook deliveries created",
        extra={**log_extra, "event": event, "deliveries": len(rows)},
    )
    return rows


def status_body(request_id: uuid.UUID) -> bytes:
    """The bytes ``GET /api/media/status/{id}`` answers for the request (its view
    renders the same serializer over the same prefetch)."""
    request = AnalysisRequest.objects.prefetch_related(
        Prefetch("results", queryset=AnalysisResult.objects.order_by("-created_at")),
        "contact_sheets",
    ).get(pk=request_id)
    return JSONRenderer().render(StatusSerializer(request).data)


def publish(delivery_ids: Iterable[uuid.UUID], *, countdown: float = 0) -> int:
    """Send the deliveries' task messages; returns how many reached the broker. A
    failure is left to beat's sweep (their ``queued_until`` stays unset)."""
    if breaker_states().get("redis") == "open":
        return 0  # the broker is this Redis: answer now, beat publishes later
    sent = []
    for delivery_id in delivery_ids:
        try:
            outbox.send_task(DELIVER_TASK, args=(str(delivery_id),), countdown=countdown)
        except Exception as exc:  # any broker or network failure: beat sends it later
            logger.warning("could not queue a webhook delivery: %s", type(exc).__name__)
            break
        sent.append(delivery_id)
    if sent:
        grace = timedelta(seconds=settings.WEBHOOK_REQUEUE_GRACE_SECONDS)
        until = timezone.now() + timedelta(seconds=countdown) + grace
        WebhookDelivery.objects.filter(pk__in=sent).update(queued_until=until)
    return len(sent)


def schedule(delivery_id: uuid.UUID, at: datetime) -> None:
    """The next attempt at ``at``: a countdown message when it is soon, else beat's."""
    delay = (at - timezone.now()).total_seconds()
    if delay <= COUNTDOWN_MAX_SECONDS:
        publish([delivery_id], countdown=max(0.0, delay))


def dispatch_due(now: datetime | None = None) -> int:
    """Beat: publish deliveries that are due and have no message on its way."""
    now = now or timezone.now()
    due = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(queued_until__isnull=True) | Q(queued_until__lt=now))
        .filter(Q(attempting_until__isnull=True) | Q(attempting_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    return publish(due) if due else 0
