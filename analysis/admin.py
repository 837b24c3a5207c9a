"""The staff console for analysis requests and results.

Requests are read-only here: every state change is an admin action that calls
the same service function as the API (``analysis.services``), so it is checked,
audited and invalidates the cache the same way. List pages are built for a
table of millions of rows (``audit.admin_tools``): capped counts, a date
hierarchy from min/max, filters without ``SELECT DISTINCT``, UUID search by
equality, results prefetched for the page only.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.contrib import admin, messages
from django.db.models import Prefetch
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from analysis import services
from analysis.models import AnalysisRequest, AnalysisResult
from analysis.options import PROVIDER_NAMES
from audit.admin_tools import FastChangeListMixin, ValueListFilter, distinct_values
from media_analysis.errors import ServiceError
from storage_app.models import ContactSheet, MediaFile

MAX_ERROR_MESSAGES = 10
# The request page's buttons: action name -> label.
BUTTON_LABELS = {
    "retry_selected": "Retry",
    "cancel_selected": "Cancel",
    "soft_delete_selected": "Delete",
    "restore_selected": "Restore",
}


# ------------------------------------------------------------------ filters
class ProviderFilter(ValueListFilter):
    title = "provider"
    parameter_name = "provider"
    field = "provider"

    def values(self, request) -> list[str]:
        return list(PROVIDER_NAMES)


class ModelFilter(ValueListFilter):
    """Models that produced results (a loose scan of idx_results_model)."""

    title = "model"
    parameter_name = "model"
    field = "model_used"

    def values(self, request) -> list[str]:
        return distinct_values(AnalysisResult, "model_used", limit=100)


# ------------------------------------------------------------------ inlines
class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ResultInline(ReadOnlyInline):
    model = AnalysisResult
    fields = (
        "provider",
        "model_used",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "latency_ms",
        "created_at",
        "result_excerpt",
        "data",  # the structured answer (options.response_schema), when there is one
    )
    readonly_fields = fields

    @admin.display(description="result")
    def result_excerpt(self, result: AnalysisResult) -> str:
        text = result.result_text or ""
        return text if len(text) <= 300 else text[:300] + "…"


class MediaFileInline(ReadOnlyInline):
    model = MediaFile
    fields = ("relative_path", "mime_type", "size_bytes", "uploaded_at", "expires_at", "deleted_at")
    readonly_fields = fields


class ContactSheetInline(ReadOnlyInline):
    model = ContactSheet
    fields = (
        "thumbnail",
        "frames_count",
        "grid_layout",
        "resolution",
        "file_size_bytes",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="image")
    def thumbnail(self, sheet: ContactSheet) -> str:
        return format_html(
            '<a href="{0}"><img class="contact-sheet-thumb" src="{0}" alt="contact sheet"></a>',
            contact_sheet_image_url(sheet),
        )


def contact_sheet_image_url(sheet: ContactSheet) -> str:
    return reverse("admin:storage_app_contactsheet_image", args=[sheet.pk])


# -------------------------------------------------------------------- admin
def _service_action(service: Callable, done: str):
    """An admin action calling ``service(request_id)`` for each selected request;
    refusals (``ServiceError``) are shown as messages, the rest go on."""

    def action(modeladmin: AnalysisRequestAdmin, request: HttpRequest, queryset) -> None:
        succeeded, refused = 0, []
        for request_id in queryset.values_list("pk", flat=True):
            try:
                service(request_id)
            except ServiceError as exc:
                refused.append(f"{request_id}: {exc.message}")
            else:
                succeeded += 1
        if succeeded:
            modeladmin.message_user(request, f"{succeeded} request(s) {done}.", messages.SUCCESS)
        for message in refused[:MAX_ERROR_MESSAGES]:
            modeladmin.message_user(request, message, messages.ERROR)
        if len(refused) > MAX_ERROR_MESSAGES:
            modeladmin.message_user(
                request, f"…and {len(refused) - MAX_ERROR_MESSAGES} more refused.", messages.ERROR
            )

    return action


@admin.register(AnalysisRequest)
class AnalysisRequestAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = (
        "short_id",
        "created_at",
        "status_badge",
        "media_type",
        "provider",
        "model_used",
        "latency",
        "cost",
        "owner",
        "original_filename",
    )
    list_display_links = ("short_id",)
    list_filter = ("status", "media_type", ProviderFilter, ModelFilter, "created_at")
    search_fields = ("prompt", "original_filename")
    search_help_text = (
        "A request id or correlation id (exact), or words of the prompt or file name."
    )
    uuid_search_fields = ("id", "correlation_id")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    list_select_related = ("owner",)
    list_per_page = 50
    inlines = (ResultInline, ContactSheetInline, MediaFileInline)
    actions = ("retry_selected", "cancel_selected", "soft_delete_selected", "restore_selected")
    change_form_template = "admin/analysis/analysisrequest/change_form.html"
    readonly_fields = ("status_badge", "cost", "contact_sheet_preview", "audit_trail")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "id",
                    "status_badge",
                    "media_type",
                    "provider",
                    "model_used",
                    "owner",
                    "original_filename",
                    "media_url",
                    "prompt",
                    "correlation_id",
                )
            },
        ),
        (
            "Outcome",
            {
                "fields": (
                    "error_code",
                    "error_message",
                    "latency_ms",
                    "cost",
                    "retry_count",
                    "contact_sheet_preview",
                    "audit_trail",
                )
            },
        ),
        ("Times", {"fields": ("created_at", "started_at", "completed_at", "deleted_at")}),
        ("Details", {"classes": ("collapse",), "fields": ("prompt_hash", "metadata")}),
    )

    class Media:
        css = {"all": ("analysis/console.css",)}

    def get_queryset(self, request):
        # Results of the shown page only, for the cost column: one query, not one per row.
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch(
                    "results",
                    queryset=AnalysisResult.objects.only("id", "request_id", "cost_usd").order_by(),
                )
            )
        )

    # Read-only: changes go through the actions (the services).
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # Object pages are view-only; the list keeps "change" so actions can run.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The page is view-only; its buttons post the list's actions for this one request.
        allowed = self.get_actions(request)
        extra_context = {
            **(extra_context or {}),
            "request_actions": [
                (name, label) for name, label in BUTTON_LABELS.items() if name in allowed
            ],
        }
        return super().change_view(request, object_id, form_url, extra_context)

    # --- columns
    @admin.display(description="id", ordering="id")
    def short_id(self, obj: AnalysisRequest) -> str:
        return str(obj.pk)[:8]

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: AnalysisRequest) -> str:
        return format_html(
            '<span class="status-badge status-{}">{}</span>', obj.status, obj.get_status_display()
        )

    @admin.display(description="latency", ordering="latency_ms")
    def latency(self, obj: AnalysisRequest) -> str:
        if obj.latency_ms is None:
            return "-"
        return (
            f"{obj.latency_ms / 1000:.1f} s" if obj.latency_ms >= 1000 else f"{obj.latency_ms} ms"
        )

    @admin.display(description="cost (USD)")
    def cost(self, obj: AnalysisRequest) -> str:
        costs = [r.cost_usd for r in obj.results.all() if r.cost_usd is not None]
        return f"{sum(costs, Decimal('0')):.6f}" if costs else "-"

    @admin.display(description="contact sheet")
    def contact_sheet_preview(self, obj: AnalysisRequest) -> str:
        sheets = list(obj.contact_sheets.all())
        if not sheets:
            return "-"
        return format_html_join(
            "",
            '<div class="contact-sheet-preview"><img src="{}" alt="contact sheet ({} frames, {})"></div>',
            ((contact_sheet_image_url(s), s.frames_count, s.grid_layout) for s in sheets),
        )

    @admin.display(description="audit trail")
    def audit_trail(self, obj: AnalysisRequest) -> str:
        url = reverse("admin:audit_auditlogentry_changelist") + f"?q={obj.pk}"
        return format_html('<a href="{}">Every change to this request and its files</a>', url)

    # --- actions (each calls the service the API calls)
    @admin.action(description="Retry selected failed or cancelled requests", permissions=["change"])
    def retry_selected(self, request, queryset):
        _service_action(services.retry_request, "queued again")(self, request, queryset)

    @admin.action(
        description="Cancel selected pending or processing requests", permissions=["change"]
    )
    def cancel_selected(self, request, queryset):
        _service_action(services.cancel_request, "cancelled")(self, request, queryset)

    @admin.action(description="Soft delete selected requests", permissions=["change"])
    def soft_delete_selected(self, request, queryset):
        _service_action(services.soft_delete_request, "deleted")(self, request, queryset)

    @admin.action(description="Restore selected deleted requests", permissions=["change"])
    def restore_selected(self, request, queryset):
        _service_action(services.restore_request, "restored")(self, request, queryset)


@admin.register(AnalysisResult)
class AnalysisResultAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "request_link",
        "provider",
        "model_used",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "latency_ms",
        "created_at",
    )
    list_filter = (ProviderFilter, ModelFilter, "created_at")
    search_fields = ("model_used",)
    search_help_text = "A result id or request id (exact), or a model name."
    uuid_search_fields = ("id", "request_id")
    ordering = ("-created_at",)
    readonly_fields = ("request_link",)
    exclude = ("request",)

    @admin.display(description="request")
    def request_link(self, obj: AnalysisResult) -> str:
        url = reverse("admin:analysis_analysisrequest_change", args=[obj.request_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.request_id)[:8])

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# The webhook pages (endpoints, deliveries, attempts) live with the webhooks, user
# budgets with the costs, batches with the batches.
from analysis.batches import admin as batch_admin  # noqa: E402, F401
from analysis.costs import admin as cost_admin  # noqa: E402, F401
from analysis.webhooks import admin as webhook_admin  # noqa: E402, F401
