"""The index of stored files in the staff console: browse only.

Rows are written by the pipeline and retired by cleanup, next to the files they
describe; editing one here would make the index lie about the disk. Contact
sheets are served to staff through ``ContactSheetAdmin.image_view`` (admin login
and the view permission required), never as public media.
"""

from __future__ import annotations

import mimetypes

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html

from audit.admin_tools import FastChangeListMixin
from storage_app.layout import UnsafePathError
from storage_app.models import ContactSheet, MediaFile
from storage_app.serving import serve_record


class BrowseOnlyAdmin(FastChangeListMixin, admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="request")
    def request_link(self, obj) -> str:
        if not obj.request_id:
            return "-"
        url = reverse("admin:analysis_analysisrequest_change", args=[obj.request_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.request_id)[:8])


@admin.register(MediaFile)
class MediaFileAdmin(BrowseOnlyAdmin):
    list_display = (
        "relative_path",
        "request_link",
        "mime_type",
        "size_bytes",
        "retention_days",
        "uploaded_at",
        "expires_at",
        "deleted_at",
    )
    list_filter = ("uploaded_at", "deleted_at")
    search_fields = ("^relative_path", "filename")
    search_help_text = (
        "A file id or request id (exact), the start of a relative path, or a file name."
    )
    uuid_search_fields = ("id", "request_id")
    date_hierarchy = "uploaded_at"
    ordering = ("-uploaded_at",)
    exclude = ("request",)
    readonly_fields = ("request_link",)


@admin.register(ContactSheet)
class ContactSheetAdmin(BrowseOnlyAdmin):
    list_display = (
        "relative_path",
        "request_link",
        "frames_count",
        "grid_layout",
        "resolution",
        "file_size_bytes",
        "created_at",
    )
    list_filter = ("created_at",)
    search_fields = ("^relative_path",)
    search_help_text = "A contact sheet id or request id (exact), or the start of a relative path."
    uuid_search_fields = ("id", "request_id")
    ordering = ("-created_at",)
    exclude = ("request",)
    readonly_fields = ("request_link", "image")

    @admin.display(description="image")
    def image(self, sheet: ContactSheet) -> str:
        url = reverse("admin:storage_app_contactsheet_image", args=[sheet.pk])
        return format_html('<img src="{}" alt="contact sheet" style="max-width: 100%">', url)

    def get_urls(self):
        view = self.admin_site.admin_view(self.image_view)
        return [
            path("<uuid:sheet_id>/image/", view, name="storage_app_contactsheet_image"),
            *super().get_urls(),
        ]

    def image_view(self, request: HttpRequest, sheet_id) -> HttpResponse:
        """The contact sheet's image file (or, on S3, a redirect to it); 404 when the
        row or the file is gone."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        sheet = (
            ContactSheet.objects.filter(pk=sheet_id).only("relative_path", "storage_path").first()
        )
        if sheet is None:
            raise Http404("No such contact sheet.")
        name = (sheet.relative_path or sheet.storage_path or "").rsplit("/", 1)[-1]
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        try:
            response = serve_record(
                sheet.relative_path, sheet.storage_path, content_type=content_type
            )
        except (UnsafePathError, ValueError, OSError):
            raise Http404("The contact sheet's file is not stored (any more).") from None
        if isinstance(response, FileResponse):
            response["Cache-Control"] = "private, max-age=300"
        return response
