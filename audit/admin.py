from django.contrib import admin

from audit.models import AuditLogEntry


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(admin.ModelAdmin):
    """Read-only: the audit trail cannot be edited or deleted through the application."""

    list_display = ("created_at", "action", "table_name", "record_id", "performed_by", "ip_address")
    list_filter = ("action", "table_name", "created_at")
    search_fields = ("=record_id", "=correlation_id", "performed_by")
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
