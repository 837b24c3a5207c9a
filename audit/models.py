"""The plan's ``audit_log`` table, written by django-auditlog.

Why auditlog writes straight into this table (``AUDITLOG_LOGENTRY_MODEL``) rather
than into its own table bridged over here: one row per change, written once, in
the transaction that made the change; nothing to keep in step, and the plan's
columns stay the only truth another service reads. auditlog keeps doing what it
does well (signals, diffs, the registry, its context); this model maps its
vocabulary onto the plan's columns:

=================  ==================  =========================================
auditlog           audit_log column    how
=================  ==================  =========================================
object_pk          record_id UUID      property
action 0/1/2       action VARCHAR      ``Action`` holds "INSERT"/"UPDATE"/"DELETE"
changes            old_values,         property: {field: [old, new]} is split
                   new_values          into two JSON objects, and joined back
actor (a user)     performed_by        property: a username, or a system actor
remote_addr        ip_address INET     property
cid                correlation_id      property (extra column, nullable)
timestamp          created_at          property
content_type       table_name          the model's ``db_table``; the content type
                                       is kept too (nullable, no FK constraint)
=================  ==================  =========================================

auditlog's other columns (object_id, changes_text, serialized_data, remote_port,
additional_data, actor_email) are left out. Every column beyond the plan is
nullable, so a plain SQL INSERT of the plan's columns still works.

Rows are immutable: the model and its queryset refuse updates and deletes, and a
trigger (migration 0001) refuses them in the database too, except for the prune
(``audit.retention``), which sets ``audit.allow_prune`` for its transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from audit.receivers import defer_if_set_by_database
from media_analysis import context
from media_analysis.db_fields import DbNow, uuid_primary_key


class AuditAction(models.TextChoices):
    INSERT = "INSERT"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


class AuditLogImmutableError(Exception):
    """Raised on any attempt to change or delete an audit entry."""

    def __init__(self, what: str = "changed or deleted"):
        super().__init__(
            f"Audit log entries cannot be {what}; "
            "`manage.py prune_audit_log --older-than DAYS` is the only way out."
        )


class AuditLogQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogImmutableError("updated")

    def delete(self):
        raise AuditLogImmutableError("deleted")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AuditLogImmutableError("updated")

    def for_record(self, record_id: uuid.UUID | str) -> AuditLogQuerySet:
        """Entries about the record and about the records that belong to it."""
        return self.filter(models.Q(record_id=record_id) | models.Q(parent_record_id=record_id))


def parent_record_of(instance: models.Model) -> uuid.UUID | None:
    """The id of the record ``instance`` belongs to (``AUDIT_PARENT_FIELD``, e.g. a
    result's request), so one request's whole trail is one indexed query."""
    name = settings.AUDIT_PARENT_FIELD
    if not name:
        return None
    try:
        field = instance._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if not field.is_relation or not field.many_to_one:
        return None
    return context.parse_uuid(getattr(instance, field.attname, None))


class AuditLogManager(LogEntryManager.from_queryset(AuditLogQuerySet)):
    def log_create(self, instance, force_log: bool = False, **kwargs):
        kwargs.setdefault("table_name", instance._meta.db_table)
        kwargs.setdefault("parent_record_id", parent_record_of(instance))
        deferred = (
            kwargs.get("changes")
            and not force_log
            and defer_if_set_by_database(instance, kwargs, self.write_now)
        )
        if deferred:
            return None  # written after the save, with the database's values
        return super().log_create(instance, force_log=force_log, **kwargs)

    def write_now(self, instance, kwargs: dict[str, Any]):
        """auditlog's ``log_create`` without our deferral (the receiver's way in)."""
        return super().log_create(instance, **kwargs)

    # auditlog's lookups, on this table's columns
    def get_for_object(self, instance):
        if not isinstance(instance, models.Model):
            return self.none()
        return self.filter(table_name=instance._meta.db_table, record_id=instance.pk)

    def get_for_objects(self, queryset):
        return self.filter(
            table_name=queryset.model._meta.db_table, record_id__in=queryset.values("pk")
        )

    def get_for_model(self, model):
        return self.filter(table_name=model._meta.db_table)


class AuditLogEntry(AbstractLogEntry):
    class Action:
        """auditlog's receivers write ``LogEntry.Action.CREATE`` and so on: here
        those are the plan's words."""

        CREATE = AuditAction.INSERT.value
        UPDATE = AuditAction.UPDATE.value
        DELETE = AuditAction.DELETE.value
        ACCESS = "ACCESS"  # never registered here; kept for auditlog's code paths
        choices = AuditAction.choices

    # --- the plan's columns
    id = uuid_primary_key()
    table_name = models.CharField(max_length=100)
    record_id = models.UUIDField()
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    old_values = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    new_values = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    performed_by = models.CharField(max_length=100, null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    # The plan's DEFAULT now() serves plain SQL inserts; entries written here carry
    # the wall clock, so entries of one transaction keep their order.
    created_at = models.DateTimeField(
        null=True, default=timezone.now, db_default=DbNow(), editable=False
    )

    # --- beyond the plan, all nullable
    correlation_id = models.UUIDField(null=True, blank=True)
    parent_record_id = models.UUIDField(
        null=True, blank=True, help_text="The record this one belongs to (a result's request)."
    )
    content_type = models.ForeignKey(
        "contenttypes.ContentType",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,  # entries outlive content types; nothing cascades here
        db_index=False,
        related_name="+",
    )
    object_repr = models.TextField(null=True, blank=True)

    # --- auditlog columns this table does not have
    object_id = None
    changes_text = None
    additional_data = None
    actor_email = None
    remote_port = None

    objects = AuditLogManager()

    class Meta:
        db_table = "audit_log"
        ordering = ["-created_at"]
        get_latest_by = "created_at"
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        indexes = [
            models.Index(fields=["table_name", "record_id"], name="idx_audit_table"),
            models.Index(fields=["-created_at"], name="idx_audit_created"),
            models.Index(fields=["record_id"], name="idx_audit_record"),
            models.Index(fields=["parent_record_id"], name="idx_audit_parent"),
            models.Index(fields=["correlation_id"], name="idx_audit_correlation"),
            models.Index(fields=["performed_by", "-created_at"], name="idx_audit_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.table_name} {self.record_id}"

    # --- auditlog's vocabulary, mapped onto the columns
    @property
    def object_pk(self) -> uuid.UUID | None:
        return self.record_id

    @object_pk.setter
    def object_pk(self, value) -> None:
        self.record_id = context.parse_uuid(value)

    @property
    def changes(self) -> dict[str, list] | None:
        old, new = self.old_values or {}, self.new_values or {}
        names = sorted(set(old) | set(new))
        return {name: [old.get(name), new.get(name)] for name in names} or None

    @changes.setter
    def changes(self, value: dict[str, Any] | None) -> None:
        value = value or {}
        self.old_values = {name: pair[0] for name, pair in value.items()} or None
        self.new_values = {name: pair[1] for name, pair in value.items()} or None

    @property
    def actor(self) -> str | None:
        return self.performed_by

    @actor.setter
    def actor(self, value) -> None:
        if value is None or self.performed_by:
            return
        if isinstance(value, str):
            self.performed_by = context.clip_actor(value)
        elif getattr(value, "is_authenticated", False):
            self.performed_by = context.actor_for_user(value)

    @property
    def remote_addr(self) -> str | None:
        return self.ip_address

    @remote_addr.setter
    def remote_addr(self, value) -> None:
        if value and not self.ip_address:
            self.ip_address = value

    @property
    def cid(self) -> str | None:
        return str(self.correlation_id) if self.correlation_id else None

    @cid.setter
    def cid(self, value) -> None:
        self.correlation_id = context.parse_uuid(value) or self.correlation_id

    @property
    def timestamp(self):
        return self.created_at

    @timestamp.setter
    def timestamp(self, value) -> None:
        self.created_at = value

    @property
    def serialized_data(self) -> None:
        return None  # old_values/new_values are the record; no snapshot is kept

    @serialized_data.setter
    def serialized_data(self, value) -> None:
        pass

    # --- writing, once
    def fill_from_context(self) -> None:
        """Actor, address and correlation id from ``media_analysis.context``, where not set;
        the plan's table name; and no "old" side for an INSERT, no "new" for a DELETE."""
        if not self.performed_by:
            self.performed_by = context.current_actor()
        if not self.ip_address:
            self.ip_address = context.current_client_ip()
        if not self.correlation_id:
            self.correlation_id = context.current_correlation_id()
        if not self.table_name and self.content_type_id:
            model = self.content_type.model_class()
            self.table_name = (
                model._meta.db_table
                if model
                else f"{self.content_type.app_label}_{self.content_type.model}"
            )
        if self.action == AuditAction.INSERT:
            self.old_values = None
        elif self.action == AuditAction.DELETE:
            self.new_values = None

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AuditLogImmutableError("changed")
        self.fill_from_context()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogImmutableError("deleted")

    def as_dict(self) -> dict[str, Any]:
        """The entry as the API shows it."""
        return {
            "id": str(self.id),
            "table_name": self.table_name,
            "record_id": str(self.record_id),
            "action": self.action,
            "old_values": self.old_values,
            "new_values": self.new_values,
            "performed_by": self.performed_by,
            "ip_address": self.ip_address,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "correlation_id": str(self.correlation_id) if self.correlation_id else None,
        }
