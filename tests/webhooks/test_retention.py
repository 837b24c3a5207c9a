"""The daily prune: finished deliveries and their attempts older than
WEBHOOK_DELIVERY_RETENTION_DAYS go, in batches; pending ones and recent ones stay;
the admin lists what is left."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analysis.webhooks import retention, tasks
from analysis.webhooks.models import (
    AttemptOutcome,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
)
from tests.api.conftest import make_request

pytestmark = [pytest.mark.django_db(transaction=True)]


def _delivery(owner, status: str, age_days: float, *, attempts: int = 1, started_days=None):
    when = timezone.now() - timedelta(days=age_days)
    row = WebhookDelivery.objects.create(
        request=make_request(owner),
        event="request.completed",
        target="callback",
        owner=owner,
        url="http://127.0.0.1:9/in",
        payload="{}",
        status=status,
        attempts=attempts,
        window_started_at=timezone.now() - timedelta(days=started_days or age_days),
        next_attempt_at=when if status == DeliveryStatus.PENDING else None,
    )
    WebhookDelivery.objects.filter(pk=row.pk).update(created_at=when)  # auto_now_add
    WebhookAttempt.objects.bulk_create(
        WebhookAttempt(
            delivery=row,
            number=n,
            attempted_at=when,
            status_code=500,
            duration_ms=3,
            outcome=AttemptOutcome.RETRYING,
        )
        for n in range(1, attempts + 1)
    )
    return row


def test_finished_old_deliveries_go_with_their_attempts_pending_and_recent_stay(
    alice,
    settings,
    admin_client,
):
    user = alice.user
    old_delivered = [_delivery(user, DeliveryStatus.DELIVERED, 40, attempts=2) for _ in range(5)]
    old_failed = _delivery(user, DeliveryStatus.FAILED, 31, attempts=3)
    old_cancelled = _delivery(user, DeliveryStatus.CANCELLED, 45)
    old_pending = _delivery(user, DeliveryStatus.PENDING, 60, attempts=4)
    recent = _delivery(user, DeliveryStatus.DELIVERED, 29)
    # Created long ago, redelivered by staff last week: its last window is recent.
    redelivered = _delivery(user, DeliveryStatus.DELIVERED, 50, started_days=7)

    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 30
    settings.WEBHOOK_PRUNE_BATCH_SIZE = 2
    with CaptureQueriesContext(connection) as queries:
        report = tasks.prune_webhook_deliveries()
    assert report == {"deliveries": 7, "attempts": 5 * 2 + 3 + 1}
    deletes = [q for q in queries.captured_queries if "DELETE FROM webhook_deliveries" in q["sql"]]
    assert len(deletes) == 4  # 2 + 2 + 2 + 1: one short transaction per batch

    kept = set(WebhookDelivery.objects.values_list("pk", flat=True))
    assert kept == {old_pending.pk, recent.pk, redelivered.pk}
    assert WebhookAttempt.objects.filter(delivery=old_pending).count() == 4
    assert not WebhookAttempt.objects.filter(
        delivery__in=[*old_delivered, old_failed, old_cancelled]
    ).exists()
    assert WebhookAttempt.objects.count() == 4 + 1 + 1

    for page in ("webhookdelivery", "webhookattempt"):
        answer = admin_client.get(f"/admin/analysis/{page}/")
        assert answer.status_code == 200 and old_pending.webhook_id in answer.content.decode()
    assert tasks.prune_webhook_deliveries() == {"deliveries": 0, "attempts": 0}


def test_zero_keeps_everything_and_the_beat_entry_is_scheduled(alice, settings):
    _delivery(alice.user, DeliveryStatus.DELIVERED, 400)
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 0
    assert tasks.prune_webhook_deliveries() == {"deliveries": 0, "attempts": 0}
    assert WebhookDelivery.objects.count() == 1
    with pytest.raises(ValueError):
        retention.prune_deliveries(older_than_days=0)

    from media_analysis import settings as shipped

    entry = shipped.CELERY_BEAT_SCHEDULE["webhooks-prune"]
    assert entry["task"] == tasks.prune_webhook_deliveries.name
    assert shipped.CELERY_TASK_ROUTES[entry["task"]] == {"queue": "maintenance"}
