"""Beat: prune the audit log to ``AUDIT_RETENTION_DAYS`` (0 keeps it forever)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from audit.retention import prune_entries

SYSTEM_ACTOR = "system:audit-retention"


@shared_task(name="audit.tasks.prune_audit_log", audit_actor=SYSTEM_ACTOR)
def prune_audit_log() -> int:
    days = settings.AUDIT_RETENTION_DAYS
    if not days:
        return 0
    return prune_entries(older_than_days=days, batch_size=settings.AUDIT_PRUNE_BATCH_SIZE)
