"""Audited bulk updates: what auditlog's signals cannot see.

``QuerySet.update()`` sends no signal, so auditlog records nothing. Call
``audited_update(queryset, field=value, ...)`` instead of
``queryset.update(field=value, ...)``: same effect and return value, plus one
UPDATE entry per changed row with the old and the new values of the changed
fields (read back from the rows, so expressions such as ``Now()`` or ``F()`` are
recorded as the values they produced). The rows are locked for the duration.

Meant for batches (cleanup works in batches of a few hundred): every row is read
twice. Chunk anything larger.
"""

from __future__ import annotations

from typing import Any

from auditlog.diff import model_instance_diff
from auditlog.registry import auditlog
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction

from audit.models import AuditAction, AuditLogEntry, parent_record_of
from media_analysis.context import acting_as


def audited_update(queryset: models.QuerySet, *, actor: str | None = None, **changes: Any) -> int:
    """``queryset.update(**changes)`` with an audit entry per changed row; ``actor``
    overrides the context's (e.g. ``"system:cleanup"``)."""
    model = queryset.model
    if not changes:
        return 0
    if not auditlog.contains(model):
        return queryset.update(**changes)
    names = [model._meta.get_field(name).name for name in changes]
    loaded = list(names)
    parent = settings.AUDIT_PARENT_FIELD
    if parent and parent not in loaded and _has_field(model, parent):
        loaded.append(parent)
    manager = model._base_manager.db_manager(queryset.db)
    with transaction.atomic(using=queryset.db):
        before = list(queryset.select_for_update().only(*loaded))
        if not before:
            return 0
        ids = [row.pk for row in before]
        count = manager.filter(pk__in=ids).update(**changes)
        after = manager.filter(pk__in=ids).only(*loaded).in_bulk()
        with acting_as(actor):
            entries = _entries(model, before, after, names)
        AuditLogEntry.objects.using(queryset.db).bulk_create(entries)
    return count


def _entries(
    model: type[models.Model],
    before: list[models.Model],
    after: dict[Any, models.Model],
    names: list[str],
) -> list[AuditLogEntry]:
    content_type = ContentType.objects.get_for_model(model)
    entries = []
    for old in before:
        new = after.get(old.pk)
        if new is None:
            continue
        diff = model_instance_diff(
            old,
            new,
            fields_to_check=names,
            use_json_for_changes=settings.AUDITLOG_STORE_JSON_CHANGES,
        )
        if not diff:
            continue
        entry = AuditLogEntry(
            content_type=content_type,
            table_name=model._meta.db_table,
            record_id=old.pk,
            parent_record_id=parent_record_of(old),
            action=AuditAction.UPDATE,
        )
        entry.changes = diff
        entry.fill_from_context()
        entries.append(entry)
    return entries


def _has_field(model: type[models.Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except Exception:
        return False
    return True
