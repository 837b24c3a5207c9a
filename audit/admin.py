"""The audit log in the admin: browse, filter, search; never add, change or delete
(not even a superuser: the permissions are refused here, and the model and the
database refuse the writes anyway)."""

from __future__ import annotations

import json

# auditlog registers its own admin for the log entry model (ours); replace it
# whatever order the admin modules are discovered in.
import auditlog.admin  # noqa: F401
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.utils.html import format_html

from audit.admin_tools import FastChangeListMixin, ValueListFilter, distinct_values
from audit.models import AuditLogEntry

if admin.site.is_registered(AuditLogEntry):
    admin.site.unregister(AuditLogEntry)


class TableFilter(ValueListFilter):
    title = "table"
    parameter_name = "table"
    field = "table_name"

    def values(self, request) -> list[str]:
        return sorted(
            apps.get_model(label)._meta.db_table
            for label in settings.AUDITLOG_INCLUDE_TRACKING_MODELS
        )


class ActorFilter(ValueListFilter):
    title = "performed by"
    parameter_name = "actor"
    field = "performed_by"

    def values(self, request) -> list[str]:
        return distinct_values(AuditLogEntry, "performed_by", limit=100)


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "action",
        "table_name",
        "record_id",
        "performed_by",
        "ip_address",
        "correlation_id",
    )
    list_filter = (TableFilter, "action", ActorFilter, "created_at")
    # A UUID finds the record, the records belonging to it, or a correlation id;
    # other text is an exact actor name.
    search_fields = ("=performed_by",)
    search_help_text = "A record id, a request id (its whole trail), a correlation id, or an actor."
    uuid_search_fields = ("record_id", "parent_record_id", "correlation_id")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    fields = (
        "created_at",
        "action",
        "table_name",
        "record_id",
        "parent_record_id",
        "object_repr",
        "performed_by",
        "ip_address",
        "correlation_id",
        "old_values_pretty",
        "new_values_pretty",
    )
    readonly_fields = fields
    actions = None

    @admin.display(description="old values")
    def old_values_pretty(self, entry: AuditLogEntry):
        return _pretty(entry.old_values)

    @admin.display(description="new values")
    def new_values_pretty(self, entry: AuditLogEntry):
        return _pretty(entry.new_values)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _pretty(values) -> str:
    if values is None:
        return "-"
    return format_html(
        '<pre style="white-space: pre-wrap; margin: 0">{}</pre>',
        json.dumps(values, indent=2, sort_keys=True, ensure_ascii=False, default=str),
    )
