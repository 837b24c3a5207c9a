"""Old delivery records leave by age, in batches (beat, daily).

A delivery that is no longer pending (delivered, given up, or cancelled with its
endpoint) is deleted with its attempts once its last (re)delivery started more than
WEBHOOK_DELIVERY_RETENTION_DAYS ago. Pending deliveries are never deleted, however
old: they are work still to do. Each batch is one short transaction, so a large
backlog never holds one long transaction or its locks.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from analysis.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1000
FINISHED = [DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.CANCELLED]

# ``created_at`` <= ``window_started_at`` always (a redelivery moves the window on),
# so the first condition only lets the created_at index find the candidates.
# FOR UPDATE: a redelivery of one of them waits for this batch, then finds it gone;
# SKIP LOCKED: an attempt or redelivery under way keeps its row for the next run.
_DELETE_BATCH = f"""
WITH doomed AS (
    SELECT id FROM {WebhookDelivery._meta.db_table}
    WHERE created_at < %(cutoff)s AND window_started_at < %(cutoff)s
      AND status = ANY(%(finished)s)
    ORDER BY created_at
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
), attempts AS (
    DELETE FROM {WebhookAttempt._meta.db_table}
    WHERE delivery_id IN (SELECT id FROM doomed)
    RETURNING 1
)
DELETE FROM {WebhookDelivery._meta.db_table}
WHERE id IN (SELECT id FROM doomed)
RETURNING (SELECT count(*) FROM attempts)
"""  # noqa: S608 (table names from our models; values are parameters)


def prune_deliveries(*, older_than_days: int, batch_size: int = DEFAULT_BATCH_SIZE) -> dict:
    """Delete finished deliveries (and their attempts) older than ``older_than_days``;
    returns how many of each."""
    if older_than_days < 1:
        raise ValueError("older_than_days must be at least 1")
    cutoff = timezone.now() - timedelta(days=older_than_days)
    params = {"cutoff": cutoff, "finished": [str(s) for s in FINISHED], "batch": batch_size}
    deliveries = attempts = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_DELETE_BATCH, params)
            rows = cursor.fetchall()
        deliveries += len(rows)
        attempts += rows[0][0] if rows else 0
        if len(rows) < batch_size:
            break
    report = {"deliveries": deliveries, "attempts": attempts}
    logger.info(
        "webhook deliveries pruned",
        extra={**report, "older_than_days": older_than_days, "cutoff": cutoff.isoformat()},
    )
    return report
