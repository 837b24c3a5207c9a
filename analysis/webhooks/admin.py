"""The staff console for webhooks: endpoints (registered here too, the secret
shown once in a message), deliveries with their attempts, every attempt in one
list, and redelivery (the same webhook-id and payload, a fresh retry window).
Registered by ``analysis.admin``."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from analysis.webhooks import delivery, registry, signing, vault
from analysis.webhooks.models import (
    CALLBACK_TARGET,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from media_analysis.errors import ServiceError


class EndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("owner", "url", "description", "events", "enabled")

    def clean_url(self) -> str:
        try:
            return registry.validate_target_url(self.cleaned_data.get("url"), field="url")
        except ServiceError as exc:
            raise forms.ValidationError(exc.message) from None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ("id", "owner", "url", "events", "enabled", "failing_since", "disabled_reason")
    list_filter = ("enabled",)
    list_select_related = ("owner",)
    search_fields = ("url", "owner__username")
    readonly_fields = ("disabled_reason", "disabled_at", "failing_since", "created_at")
    raw_id_fields = ("owner",)

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form, change: bool) -> None:
        if not change:
            try:
                secret = signing.generate_secret()
                obj.secret_encrypted = vault.encrypt(secret)
            except ServiceError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                raise
            super().save_model(request, obj, form, change)
            self.message_user(
                request,
                f"Signing secret (shown this once; give it to the endpoint's owner): {secret}",
                messages.WARNING,
            )
            return
        super().save_model(request, obj, form, change)
        if "enabled" in form.changed_data and obj.enabled:
            registry.enable_endpoint(obj)  # back in service: the failure streak starts over
        elif "enabled" in form.changed_data:
            # As any disabling: its owner sees why, and what was waiting is cancelled.
            now = timezone.now()
            registry.disable_endpoint(obj, f"Disabled by staff on {now:%Y-%m-%d %H:%M} UTC.", now)


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "number",
        "attempted_at",
        "status_code",
        "duration_ms",
        "outcome",
        "error",
        "next_attempt_at",
    )
    ordering = ("number",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def _redeliver(modeladmin: admin.ModelAdmin, request: HttpRequest, delivery_ids: list) -> None:
    queued, refused = delivery.redeliver(delivery_ids)
    if queued:
        modeladmin.message_user(request, f"{queued} delivery(ies) queued again.", messages.SUCCESS)
    for message in refused[:10]:
        modeladmin.message_user(request, message, messages.ERROR)


def _target(item: WebhookDelivery) -> str:
    if item.target == CALLBACK_TARGET:
        return "callback_url"
    return f"endpoint {str(item.endpoint_id)[:8]}" if item.endpoint_id else "deleted endpoint"


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "webhook_id",
        "event",
        "request_link",
        "target_name",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status", "event")
    list_select_related = ("endpoint",)
    ordering = ("-created_at",)
    inlines = (AttemptInline,)
    actions = ("redeliver_selected",)
    exclude = ("payload", "url")  # the payload is the request's status; the URL may hold tokens
    readonly_fields = (
        "webhook_id",
        "request_link",
        "event",
        "occurrence",
        "target",
        "endpoint",
        "status",
        "attempts",
        "next_attempt_at",
        "window_started_at",
        "last_status_code",
        "last_error",
        "created_at",
        "delivered_at",
    )

    @admin.display(description="target")
    def target_name(self, obj: WebhookDelivery) -> str:
        return _target(obj)

    @admin.display(description="request or batch")
    def request_link(self, obj: WebhookDelivery) -> str:
        if obj.batch_id is not None:
            url = reverse("admin:analysis_analysisbatch_change", args=[obj.batch_id])
            return format_html('<a href="{}">batch {}</a>', url, str(obj.batch_id)[:8])
        url = reverse("admin:analysis_analysisrequest_change", args=[obj.request_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.request_id)[:8])

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Redeliver selected (same webhook-id)", permissions=["change"])
    def redeliver_selected(self, request, queryset):
        _redeliver(self, request, list(queryset.values_list("pk", flat=True)))


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(admin.ModelAdmin):
    """Every attempt: which target, event and webhook-id, the answer, how long it
    took, the error and when the next attempt is due."""

    list_display = (
        "attempted_at",
        "target_name",
        "event",
        "webhook_id",
        "number",
        "status_code",
        "duration_ms",
        "outcome",
        "error",
        "next_attempt_at",
    )
    list_filter = ("outcome", "delivery__event")
    list_select_related = ("delivery",)
    ordering = ("-attempted_at",)
    actions = ("redeliver_selected",)

    @admin.display(description="target")
    def target_name(self, obj: WebhookAttempt) -> str:
        return _target(obj.delivery)

    @admin.display(description="event")
    def event(self, obj: WebhookAttempt) -> str:
        return obj.delivery.event

    @admin.display(description="webhook-id")
    def webhook_id(self, obj: WebhookAttempt) -> str:
        url = reverse("admin:analysis_webhookdelivery_change", args=[obj.delivery_id])
        return format_html('<a href="{}">{}</a>', url, obj.delivery.webhook_id)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None  # the list's action; an attempt itself is a record

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(
        description="Redeliver the deliveries of the selected attempts", permissions=["change"]
    )
    def redeliver_selected(self, request, queryset):
        _redeliver(self, request, list(set(queryset.values_list("delivery_id", flat=True))))
