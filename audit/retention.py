"""The only way audit entries leave: by age, in batches.

The database trigger refuses every UPDATE and DELETE on ``audit_log`` unless the
transaction has set ``audit.allow_prune``; the prune sets it with ``SET LOCAL``
around each batch's DELETE only.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 10_000


def prune_entries(*, older_than_days: int, batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """Delete entries created more than ``older_than_days`` days ago; returns how
    many. Batches keep each transaction (and its locks) short."""
    if older_than_days < 1:
        raise ValueError("older_than_days must be at least 1")
    cutoff = timezone.now() - timedelta(days=older_than_days)
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL audit.allow_prune = 'on'")
            cursor.execute(
                "DELETE FROM audit_log WHERE id IN ("
                " SELECT id FROM audit_log WHERE created_at < %s LIMIT %s)",
                [cutoff, batch_size],
            )
            deleted = cursor.rowcount
            # Inside an outer transaction (a savepoint), SET LOCAL would outlive
            # this block: switch it off again before leaving.
            cursor.execute("SET LOCAL audit.allow_prune = 'off'")
        total += deleted
        if deleted < batch_size:
            break
    logger.info(
        "audit log pruned",
        extra={"deleted": total, "older_than_days": older_than_days, "cutoff": cutoff.isoformat()},
    )
    return total
