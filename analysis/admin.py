"""A first staff console for requests and results: list, filter, search.

The full console (actions, dashboard, inlines) builds on this.
"""

from django.contrib import admin

from analysis.models import AnalysisRequest, AnalysisResult


@admin.register(AnalysisRequest)
class AnalysisRequestAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "status",
        "media_type",
        "provider",
        "model_used",
        "owner",
        "retry_count",
        "latency_ms",
        "created_at",
    )
    list_filter = ("status", "media_type", "provider", "model_used", "created_at")
    search_fields = ("=id", "=correlation_id", "prompt", "original_filename", "media_url")
    date_hierarchy = "created_at"
    list_select_related = ("owner",)
    readonly_fields = ("id", "correlation_id", "prompt_hash", "created_at")
    raw_id_fields = ("owner",)
    # The table grows without bound: never COUNT(*) it just to draw a page.
    show_full_result_count = False


@admin.register(AnalysisResult)
class AnalysisResultAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "request_id",
        "provider",
        "model_used",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "latency_ms",
        "created_at",
    )
    list_filter = ("provider", "model_used", "created_at")
    search_fields = ("=id", "=request__id", "result_text")
    date_hierarchy = "created_at"
    raw_id_fields = ("request",)
    readonly_fields = ("id", "created_at")
    show_full_result_count = False
