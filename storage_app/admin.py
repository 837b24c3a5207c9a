from django.contrib import admin

from storage_app.models import ContactSheet, MediaFile


@admin.register(MediaFile)
class MediaFileAdmin(admin.ModelAdmin):
    list_display = (
        "relative_path",
        "mime_type",
        "size_bytes",
        "retention_days",
        "uploaded_at",
        "expires_at",
        "deleted_at",
    )
    list_filter = ("mime_type", "retention_days", "uploaded_at", "deleted_at")
    search_fields = ("=id", "=request__id", "filename", "relative_path", "checksum")
    date_hierarchy = "uploaded_at"
    raw_id_fields = ("request",)
    readonly_fields = ("id", "uploaded_at")
    show_full_result_count = False


@admin.register(ContactSheet)
class ContactSheetAdmin(admin.ModelAdmin):
    list_display = (
        "relative_path",
        "request_id",
        "frames_count",
        "grid_layout",
        "resolution",
        "file_size_bytes",
        "created_at",
    )
    list_filter = ("grid_layout", "resolution", "created_at")
    search_fields = ("=id", "=request__id", "relative_path", "checksum")
    date_hierarchy = "created_at"
    raw_id_fields = ("request",)
    readonly_fields = ("id", "created_at")
    show_full_result_count = False
