"""Reading the audit trail."""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet

from audit.models import AuditLogEntry


def trail_for(record_id: uuid.UUID | str, *, table_name: str | None = None) -> QuerySet:
    """Every entry about a record and about the records that belong to it (for a
    request: its results, media files and contact sheets, deleted ones included),
    oldest first. ``table_name`` narrows the record's own entries to one table.
    Two index lookups (record_id, parent_record_id), whatever the table's size."""
    own = Q(record_id=record_id)
    if table_name:
        own &= Q(table_name=table_name)
    return AuditLogEntry.objects.filter(own | Q(parent_record_id=record_id)).order_by(
        "created_at", "id"
    )
