"""The webhook tables: endpoints, the per-user callback secret, deliveries, attempts.

A *delivery* is one event (``request.completed`` ...) of one request for one target
(a registered endpoint, or the request's ``callback_url``). Its id is the
``webhook-id`` every attempt sends, so a receiver can deduplicate; the unique key
(request, event, occurrence, target) makes creating it idempotent. ``occurrence``
is the request's retry count: a request retried and completed again is a new event.

Secrets are stored encrypted (``analysis.webhooks.vault``), never in plain text.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class WebhookEvent(models.TextChoices):
    REQUEST_COMPLETED = "request.completed"
    REQUEST_FAILED = "request.failed"
    REQUEST_CANCELLED = "request.cancelled"
    BATCH_COMPLETED = "batch.completed"  # the last item of a batch ended


REQUEST_EVENTS = [
    WebhookEvent.REQUEST_COMPLETED.value,
    WebhookEvent.REQUEST_FAILED.value,
    WebhookEvent.REQUEST_CANCELLED.value,
]


def default_events() -> list[str]:
    return list(REQUEST_EVENTS)


class WebhookEndpoint(models.Model):
    """A URL a user registered to hear of their requests' events."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.TextField(help_text="http(s) URL; public addresses only (the media URL rule).")
    description = models.CharField(max_length=200, blank=True, default="")
    events = ArrayField(models.CharField(max_length=32), default=default_events)
    secret_encrypted = models.TextField(editable=False)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.TextField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # The first failed attempt since the last success; an endpoint failing for
    # WEBHOOK_DISABLE_AFTER_SECONDS (3 days) straight is disabled.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "webhook_endpoints"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="idx_webhook_endpoint_owner")]

    def __str__(self) -> str:
        return f"webhook {self.id} ({self.url[:60]})"


class CallbackSecret(models.Model):
    """The secret signing a user's ``callback_url`` deliveries (created on first use)."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="webhook_callback_secret",
    )
    secret_encrypted = models.TextField(editable=False)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "webhook_callback_secrets"

    def __str__(self) -> str:
        return f"callback secret of user {self.owner_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # an attempt is due at next_attempt_at
    DELIVERED = "delivered"  # answered 2xx
    FAILED = "failed"  # retried for the whole window (about 24 h), or 410 from a callback
    CANCELLED = "cancelled"  # its endpoint was disabled or deleted


CALLBACK_TARGET = "callback"


class WebhookDelivery(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # What the event is about: a request, or (batch.completed) a batch; exactly one.
    request = models.ForeignKey(
        "analysis.AnalysisRequest",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_deliveries",
    )
    batch = models.ForeignKey(
        "analysis.AnalysisBatch",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_deliveries",
    )
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    occurrence = models.IntegerField(default=0)
    # "callback", or "endpoint:<id>" (kept when the endpoint is deleted: the unique key).
    target = models.CharField(max_length=64)
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    # Whose callback secret signs a callback delivery.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    url = models.TextField()  # a callback's URL (an endpoint's is read from the endpoint)
    payload = models.TextField()  # the status JSON at the event, sent unchanged by every attempt
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Retries stop this long (WEBHOOK_RETRY_WINDOW_SECONDS) after it; a redelivery resets it.
    window_started_at = models.DateTimeField()
    # A task message for it is in the broker until then (the sweep leaves it alone).
    queued_until = models.DateTimeField(null=True, blank=True, editable=False)
    # An attempt is under way until then (a second message for it does nothing).
    attempting_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_status_code = models.IntegerField(null=True, blank=True)
    last_error = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "webhook_deliveries"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "event", "occurrence", "target"], name="uniq_webhook_delivery"
            ),
            # A batch completes once: one delivery per target.
            models.UniqueConstraint(
                fields=["batch", "event", "target"],
                name="uniq_webhook_batch_delivery",
                condition=Q(batch__isnull=False),
            ),
            models.CheckConstraint(
                condition=Q(request__isnull=False, batch__isnull=True)
                | Q(request__isnull=True, batch__isnull=False),
                name="chk_webhook_delivery_subject",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="idx_webhook_delivery_due",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["-created_at"], name="idx_webhook_delivery_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.webhook_id}"

    @property
    def webhook_id(self) -> str:
        """The ``webhook-id`` header: the same for every attempt of this delivery."""
        return f"msg_{self.id.hex}"


class AttemptOutcome(models.TextChoices):
    DELIVERED = "delivered"
    RETRYING = "retrying"
    GAVE_UP = "gave_up"
    DISABLED = "disabled"  # the endpoint was disabled by this attempt (410, 3 days failing)


class WebhookAttempt(models.Model):
    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="tries")
    number = models.IntegerField()
    attempted_at = models.DateTimeField()
    status_code = models.IntegerField(null=True, blank=True)
    duration_ms = models.IntegerField()
    error = models.TextField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "webhook_attempts"
        ordering = ["-attempted_at"]
        indexes = [
            models.Index(fields=["-attempted_at"], name="idx_webhook_attempt_at"),
            models.Index(fields=["delivery", "number"], name="idx_webhook_attempt_delivery"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
