"""The plan's ``audit_log`` table: one row per change to a tracked record."""

from __future__ import annotations

from django.db import models

from media_analysis.db_fields import created_at_field, uuid_primary_key


class AuditAction(models.TextChoices):
    INSERT = "INSERT"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


class AuditLogEntry(models.Model):
    id = uuid_primary_key()
    table_name = models.CharField(max_length=100)
    record_id = models.UUIDField()
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    old_values = models.JSONField(null=True, blank=True)
    new_values = models.JSONField(null=True, blank=True)
    performed_by = models.CharField(max_length=100, null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = created_at_field()

    # Beyond the plan: ties the entry to the API call or task that caused it.
    correlation_id = models.UUIDField(null=True, blank=True)

    class Meta:
        db_table = "audit_log"
        ordering = ["-created_at"]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        indexes = [
            models.Index(fields=["table_name", "record_id"], name="idx_audit_table"),
            models.Index(fields=["-created_at"], name="idx_audit_created"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.table_name} {self.record_id}"
