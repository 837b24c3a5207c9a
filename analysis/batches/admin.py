"""The staff console for batches: who submitted what, and how far each got.
Read-only (items change through their own request pages). Registered by
``analysis.admin``."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from analysis.batches.models import AnalysisBatch
from analysis.batches.service import progress_of


@admin.register(AnalysisBatch)
class AnalysisBatchAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "item_count", "created_at", "completed_at")
    list_select_related = ("owner",)
    list_filter = (("completed_at", admin.EmptyFieldListFilter),)
    search_fields = ("=id", "owner__username")
    fields = (
        "id",
        "owner",
        "item_count",
        "callback_url",
        "created_at",
        "completed_at",
        "counts",
        "items",
    )
    readonly_fields = fields
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="items per status")
    def counts(self, obj: AnalysisBatch) -> str:
        counts = progress_of(obj).counts
        return ", ".join(f"{status}: {n}" for status, n in counts.items() if n) or "-"

    @admin.display(description="items")
    def items(self, obj: AnalysisBatch) -> str:
        rows = (
            (reverse("admin:analysis_analysisrequest_change", args=[item.id]), item.id, item.status)
            for item in progress_of(obj).items
        )
        return format_html_join(mark_safe("<br>"), '<a href="{}">{}</a> {}', rows)
