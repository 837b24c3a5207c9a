"""Who is running an analysis right now, and what happens when nobody is.

A run (``pipeline.run_analysis``) holds two things while it works:

- a session-level PostgreSQL **advisory lock** on its request. The server drops it
  the moment the worker's connection goes (a SIGKILLed process, a dead host once
  TCP keepalives give up), so a free lock says "nobody is running this" without
  trusting any clock;
- a **heartbeat**: ``heartbeat_at`` on the request row, renewed every
  ``ANALYSIS_HEARTBEAT_SECONDS`` by a thread beside the analysis.

``recover_abandoned`` (beat, every ``ANALYSIS_RECOVER_EVERY_SECONDS``, and each
worker as it starts) takes over a request that is ``processing`` with a heartbeat
older than ``ANALYSIS_LEASE_SECONDS`` *and* a free advisory lock: it goes back to
pending and is queued again. Both conditions must hold, so a slow analysis whose
heartbeat thread was starved still holds its lock and is never taken over.

Celery brings back the message of a worker *child* killed mid-task at once
(``task_reject_on_worker_lost``); that redelivery finds the request still
``processing`` with the lock free and takes it over in ``pipeline._claim``. Either
way the takeover is counted in ``metadata.recoveries`` (not in the caller's
``retry_count``), and after ``ANALYSIS_MAX_RECOVERIES`` the request fails with
``worker_lost`` instead of killing workers forever.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from analysis import transitions
from analysis.models import AnalysisRequest, AnalysisStatus

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


def advisory_key(request_id: uuid.UUID | str) -> int:
    """The 64-bit advisory lock key of a request: the first half of its UUID."""
    return int.from_bytes(uuid.UUID(str(request_id)).bytes[:8], "big", signed=True)


@contextmanager
def run_lock(request_id: uuid.UUID | str) -> Iterator[bool]:
    """Hold the request's session-level advisory lock for the block; yields False
    (and holds nothing) when another live run has it."""
    key = advisory_key(request_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def run_is_alive(request_id: uuid.UUID | str) -> bool:
    """True while some session holds the request's run lock. Call inside a
    transaction: the probe takes the lock for that transaction when it is free,
    so no run can start on the request until the caller commits."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [advisory_key(request_id)])
        return not cursor.fetchone()[0]


class Heartbeat:
    """Renews ``heartbeat_at`` of a processing request from a thread of its own, so
    a long stage (a big download, a slow provider) keeps the lease alive.

    The thread uses its own database connection (Django's are per thread) and
    closes it when it stops. A failed renewal is logged and tried again at the
    next beat: the advisory lock, not the heartbeat, is what proves a run alive.
    """

    def __init__(self, request_id: uuid.UUID | str, interval: float | None = None):
        self.request_id = request_id
        self.interval = interval or settings.ANALYSIS_HEARTBEAT_SECONDS
        self._stop = threading.Event()
        # The thread carries the task's log context (correlation and request ids).
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._run,), name=f"heartbeat-{request_id}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 10)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                self.beat()
        finally:
            connections.close_all()  # this thread's connections only

    def beat(self) -> None:
        """Renew the heartbeat (of a request still processing: a cancelled one is
        noticed by the run itself at its next stage)."""
        try:
            AnalysisRequest.objects.filter(
                pk=self.request_id, status=AnalysisStatus.PROCESSING
            ).update(heartbeat_at=Now())
        except DatabaseError as exc:
            logger.warning(
                "heartbeat not renewed: %s",
                type(exc).__name__,
                extra={"analysis_id": str(self.request_id)},
            )
            connections.close_all()  # start the next beat on a fresh connection


def abandoned_candidates(now=None) -> list[uuid.UUID]:
    """Processing requests whose heartbeat (or start, before the first beat) is
    older than the lease: their run may be dead."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.ANALYSIS_LEASE_SECONDS)
    stale = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    queryset = AnalysisRequest.objects.filter(
        stale, status=AnalysisStatus.PROCESSING, deleted_at__isnull=True
    )
    return list(queryset.values_list("id", flat=True)[:BATCH_SIZE])


def recover_abandoned(now=None) -> dict[str, int]:
    """Take over every processing request whose run is gone (stale heartbeat and
    free run lock): back to pending and queued again, or failed after too many
    recoveries. Returns counts for the log line."""
    counts = {"recovered": 0, "failed_worker_lost": 0, "alive": 0}
    for request_id in abandoned_candidates(now):
        with transaction.atomic():
            request = (
                AnalysisRequest.objects.select_for_update(skip_locked=True)
                .filter(pk=request_id, status=AnalysisStatus.PROCESSING)
                .first()
            )
            if request is None:
                continue
            if run_is_alive(request_id):
                counts["alive"] += 1  # slow, or its heartbeat thread starved: leave it
                continue
            outcome = recover_request(request, reason="heartbeat_expired")
            counts[outcome] += 1
    if counts["recovered"] or counts["failed_worker_lost"]:
        logger.warning("recovered abandoned analyses", extra=counts)
    elif counts["alive"]:
        logger.info("stale heartbeats, but their runs are alive: left alone", extra=counts)
    return counts


def recover_request(request: AnalysisRequest, *, reason: str) -> str:
    """A processing request whose run died (the caller holds its row lock and made
    sure no run is alive): back to pending and queued again, counted in
    ``metadata.recoveries``, the caller's ``retry_count`` untouched. After
    ``ANALYSIS_MAX_RECOVERIES`` it fails instead: the media may be what kills the
    worker. Returns "recovered" or "failed_worker_lost"."""
    metadata = count_recovery(request, reason)
    if metadata["recoveries"] > settings.ANALYSIS_MAX_RECOVERIES:
        fail_worker_lost(request)
        return "failed_worker_lost"
    transitions.move(request, AnalysisStatus.PENDING, reason=reason, metadata=metadata)
    return "recovered"


def count_recovery(request: AnalysisRequest, reason: str) -> dict[str, Any]:
    """Note one more takeover of a dead run in the request's metadata (not saved)."""
    metadata = dict(request.metadata or {})
    metadata["recoveries"] = int(metadata.get("recoveries") or 0) + 1
    metadata["last_recovery"] = {"at": timezone.now().isoformat(), "reason": reason}
    request.metadata = metadata
    return metadata


def fail_worker_lost(request: AnalysisRequest) -> None:
    """Too many runs of this request died: it fails for good (the caller may retry)."""
    transitions.move(
        request,
        AnalysisStatus.FAILED,
        reason="worker_lost",
        error_code="worker_lost",
        error_message=(
            f"The worker running this analysis died {request.metadata['recoveries']} times; "
            "the media may be too large or malformed for this service."
        ),
        metadata=request.metadata,
    )
