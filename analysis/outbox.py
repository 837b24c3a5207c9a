"""The outbox: nothing acknowledged waits on a broker that was down.

A request that becomes pending gets an ``OutboxEntry`` in the same transaction.
After the commit the task message is published and the entry marked sent; the
run that claims the request deletes it. So at any moment the outbox holds
exactly the pending requests, and says which of them the broker never got:

- unsent (the broker was unreachable, or the process died between commit and
  publish): ``flush`` publishes them, from beat every few seconds and from each
  worker as it starts, so they start soon after the broker answers again;
- sent long ago (``MEDIA_ANALYSIS_PENDING_REQUEUE_SECONDS``) and still unclaimed:
  the broker lost the message (a Redis restarted without persistence), so it
  is published once more.

A message published twice is harmless: a run claims a request once (see
``pipeline.run_analysis``). Each publish goes to the queue ``analysis.queues``
chooses for the request (heavy or light work).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from analysis.models import AnalysisRequest, AnalysisStatus, OutboxEntry
from analysis.queues import queue_for
from media_analysis.celery import app
from media_analysis.resilience import breaker_states
from media_analysis.task_context import ANALYSIS_HEADER, CORRELATION_HEADER, HTTP_REQUEST_HEADER

logger = logging.getLogger(__name__)

# The task is named, not imported: analysis.tasks runs the pipeline, which moves
# requests through the transitions, which put them here (no import cycle).
ANALYSE_TASK = "analysis.tasks.analyse_request"


def send_task(name: str, **options: Any) -> None:
    """Publish task ``name`` (to ``queue=`` when given, else routed by
    settings.CELERY_TASK_ROUTES)."""
    app.send_task(name, **options)


# An unsent entry younger than this is left to the on-commit publish in flight.
UNSENT_GRACE_SECONDS = 2
FLUSH_BATCH_SIZE = 200


def add(request: AnalysisRequest) -> None:
    """Put ``request`` in the outbox and publish its task once the surrounding
    transaction commits (never before: the worker must find the row)."""
    OutboxEntry.objects.bulk_create(
        [OutboxEntry(request_id=request.id)],
        # Already there (a retry of a request whose entry was never claimed): unsent again.
        update_conflicts=True,
        unique_fields=["request"],
        update_fields=["created_at", "sent_at"],
    )
    # Chosen now, inside the transaction that stored the upload's file row.
    request_id, headers, queue = request.id, task_headers(request), queue_for(request)

    def publish_after_commit() -> None:
        _publish_after_commit(request_id, headers, queue)

    transaction.on_commit(publish_after_commit)


def claimed(request_id: uuid.UUID | str) -> None:
    """A run has the request: its message did its job."""
    OutboxEntry.objects.filter(request_id=request_id).delete()


def flush(now=None) -> dict[str, int]:
    """Publish what the broker has not got; stops at the first broker failure."""
    now = now or timezone.now()
    counts = {"sent": 0, "resent": 0, "dropped": 0, "failed": 0}
    # Entries of requests that are no longer pending (cancelled, deleted) are done.
    counts["dropped"] = OutboxEntry.objects.exclude(
        request__status=AnalysisStatus.PENDING, request__deleted_at__isnull=True
    ).delete()[0]
    lost_before = now - timedelta(seconds=settings.MEDIA_ANALYSIS_PENDING_REQUEUE_SECONDS)
    due = Q(sent_at__isnull=True, created_at__lt=now - timedelta(seconds=UNSENT_GRACE_SECONDS))
    due |= Q(sent_at__lt=lost_before)
    with transaction.atomic():
        entries = list(
            OutboxEntry.objects.select_for_update(skip_locked=True)
            .filter(due)
            .select_related("request")
            .order_by("created_at")[:FLUSH_BATCH_SIZE]
        )
        for entry in entries:
            request = entry.request
            error = _publish(request.id, task_headers(request), queue_for(request))
            if error is not None:
                OutboxEntry.objects.filter(pk=entry.pk).update(
                    attempts=entry.attempts + 1, last_error=error[:500]
                )
                counts["failed"] += 1
                break  # the broker is away: the next flush tries again
            counts["resent" if entry.sent_at else "sent"] += 1
            OutboxEntry.objects.filter(pk=entry.pk).update(
                sent_at=Now(), attempts=entry.attempts + 1, last_error=None
            )
    if counts["sent"] or counts["resent"] or counts["failed"]:
        logger.info("outbox flushed", extra=counts)
    return counts


def _publish_after_commit(request_id: uuid.UUID, headers: dict[str, str], queue: str) -> None:
    if breaker_states().get("redis") == "open":
        return  # the broker is this Redis: leave it to the next flush, answer now
    if _publish(request_id, headers, queue) is None:
        OutboxEntry.objects.filter(request_id=request_id, sent_at__isnull=True).update(
            sent_at=Now()
        )


def _publish(request_id: uuid.UUID, headers: dict[str, str], queue: str) -> str | None:
    """Publish the analysis task to ``queue``; the error text when the broker
    refused, else None."""
    try:
        send_task(ANALYSE_TASK, args=(str(request_id),), headers=headers, queue=queue)
    except Exception as exc:  # any broker or network failure: the entry stays
        logger.warning(
            "could not queue analysis, the outbox keeps it: %s",
            type(exc).__name__,
            extra={"analysis_id": str(request_id)},
        )
        return f"{type(exc).__name__}: {exc}"
    return None


def task_headers(request: AnalysisRequest) -> dict[str, str]:
    """What the worker's log lines and audit entries need to join this request's
    web lines: its id, its correlation id and the id of the HTTP exchange that
    submitted it (read back by ``media_analysis.task_context``)."""
    headers = {ANALYSIS_HEADER: str(request.id)}
    if request.correlation_id:
        headers[CORRELATION_HEADER] = str(request.correlation_id)
    submitted_by = (request.metadata or {}).get("http_request_id")
    if submitted_by:
        headers[HTTP_REQUEST_HEADER] = str(submitted_by)
    return headers
