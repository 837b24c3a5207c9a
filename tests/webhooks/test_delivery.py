"""Deliveries over real HTTP to a receiver on loopback, attempted in this process
(tests/webhooks/test_worker.py runs them through a Celery worker): signatures,
retries with one webhook-id, 410, redirects, the address rule at delivery, three
days of failures, records, metrics, and secrets kept out of logs and rows."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from analysis import services
from analysis.models import AnalysisStatus
from analysis.webhooks import delivery, events, metrics, signing, vault
from analysis.webhooks.models import (
    AttemptOutcome,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.conftest import SCRAPE
from tests.webhooks.conftest import drain, end_request, processing_request

pytestmark = [pytest.mark.django_db(transaction=True)]


def _register(caller, url: str, events: list[str] | None = None) -> tuple[str, str]:
    body = {"url": url, **({"events": events} if events else {})}
    answer = caller.client.post("/api/webhooks", body, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()["id"], answer.json()["secret"]


def test_the_receiver_verifies_the_signature_of_the_status_body(alice, receiver, allow_loopback):
    _endpoint_id, secret = _register(alice, receiver.url)
    request = processing_request(alice.user)
    end_request(request)
    sent = WebhookDelivery.objects.get(request=request)
    assert drain(sent.pk).status == DeliveryStatus.DELIVERED

    [post] = receiver.received
    assert post.path == "/hooks/in?token=abc"
    assert post.headers["webhook-id"] == sent.webhook_id
    assert post.headers["webhook-event"] == "request.completed"
    assert post.headers["content-type"] == "application/json"
    assert signing.verify(secret, post.headers, post.body)
    assert post.headers["webhook-signature"].startswith("v1,")
    # The payload is what GET /api/media/status/{id} answers.
    status = alice.client.get(f"/api/media/status/{request.id}")
    assert json.loads(post.body) == status.json()
    assert json.loads(post.body)["status"] == "completed"


def test_a_receiver_failing_twice_gets_the_same_webhook_id_three_times(
    alice, receiver, allow_loopback
):
    _register(alice, receiver.url)
    receiver.script = [500, 503]
    request = processing_request(alice.user)
    end_request(request, AnalysisStatus.FAILED)
    sent = WebhookDelivery.objects.get(request=request, event="request.failed")
    done = drain(sent.pk)
    assert done.status == DeliveryStatus.DELIVERED and done.attempts == 3
    assert [post.headers["webhook-id"] for post in receiver.received] == [sent.webhook_id] * 3
    assert len({post.body for post in receiver.received}) == 1  # one payload, every attempt
    attempts = list(WebhookAttempt.objects.filter(delivery=sent).order_by("number"))
    assert [(a.number, a.status_code, a.outcome) for a in attempts] == [
        (1, 500, AttemptOutcome.RETRYING),
        (2, 503, AttemptOutcome.RETRYING),
        (3, 200, AttemptOutcome.DELIVERED),
    ]
    assert attempts[0].next_attempt_at and attempts[0].error == "HTTP 500 Internal Server Error"
    assert all(a.duration_ms >= 0 for a in attempts)
    families = {family.name: family for family in metrics.metric_families()}
    outcomes = {
        s.labels["outcome"]: s.value
        for s in families["media_analysis_webhook_deliveries"].samples
        if s.name.endswith("_total")
    }
    assert outcomes == {"retrying": 2, "delivered": 1}


def test_a_410_disables_its_endpoint_and_its_owner_sees_why(alice, receiver, allow_loopback):
    _endpoint_id, _ = _register(alice, receiver.url)
    receiver.script = [410]
    first, second = processing_request(alice.user), processing_request(alice.user)
    end_request(first)
    done = drain(WebhookDelivery.objects.get(request=first).pk)
    assert done.status == DeliveryStatus.CANCELLED
    shown = alice.client.get("/api/webhooks").json()[0]
    assert shown["enabled"] is False
    assert "410" in shown["disabled_reason"] and shown["disabled_at"]
    end_request(second)  # a disabled endpoint hears of nothing more
    assert not WebhookDelivery.objects.filter(request=second).exists()
    assert len(receiver.received) == 1


def test_only_the_events_an_endpoint_asked_for_are_sent(alice, receiver, allow_loopback):
    _register(alice, receiver.url, events=["request.failed"])
    request = processing_request(alice.user)
    end_request(request, AnalysisStatus.COMPLETED)
    assert not WebhookDelivery.objects.exists()
    cancelled = processing_request(alice.user)
    services.cancel_request(cancelled.id)
    assert not WebhookDelivery.objects.exists()


def test_a_redirect_is_not_followed_but_retried(alice, receiver, allow_loopback):
    _register(alice, receiver.url)
    receiver.script = [302]
    request = processing_request(alice.user)
    end_request(request)
    done = drain(WebhookDelivery.objects.get(request=request).pk)
    assert done.status == DeliveryStatus.DELIVERED and done.attempts == 2
    assert receiver.posts_to("/elsewhere") == []
    first = WebhookAttempt.objects.get(delivery=done, number=1)
    assert first.status_code == 302 and "not followed" in first.error


def test_the_address_rule_is_checked_again_at_delivery(alice, receiver, allow_loopback, settings):
    _register(alice, receiver.url)
    request = processing_request(alice.user)
    end_request(request)
    settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = False  # loopback is private again
    report = delivery.attempt(WebhookDelivery.objects.get(request=request).pk)
    assert report.outcome == AttemptOutcome.RETRYING and report.status_code is None
    assert report.error.startswith("refused:")
    assert receiver.received == []


def test_an_endpoint_failing_for_three_days_is_disabled(alice, receiver, allow_loopback):
    endpoint_id, _ = _register(alice, receiver.url)
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(
        failing_since=timezone.now() - timedelta(days=3, minutes=1)
    )
    receiver.script = [500]
    request = processing_request(alice.user)
    end_request(request)
    report = delivery.attempt(WebhookDelivery.objects.get(request=request).pk)
    assert report.outcome == AttemptOutcome.DISABLED
    shown = alice.client.get(f"/api/webhooks/{endpoint_id}").json()
    assert shown["enabled"] is False and "failed" in shown["disabled_reason"]


def test_retries_stop_at_the_end_of_the_window(alice, receiver, allow_loopback, settings):
    settings.WEBHOOK_RETRY_WINDOW_SECONDS = 1
    settings.WEBHOOK_RETRY_DELAYS = [0.4]
    _register(alice, receiver.url)
    receiver.script = [500] * 20
    request = processing_request(alice.user)
    end_request(request)
    done = drain(WebhookDelivery.objects.get(request=request).pk)
    assert done.status == DeliveryStatus.FAILED
    outcomes = list(
        WebhookAttempt.objects.filter(delivery=done)
        .order_by("number")
        .values_list("outcome", flat=True)
    )
    assert outcomes[-1] == AttemptOutcome.GAVE_UP and 2 <= len(outcomes) <= 5


def test_one_delivery_per_event_target_and_occurrence(alice, receiver, allow_loopback):
    _register(alice, receiver.url)
    request = processing_request(alice.user)
    end_request(request)
    # The same ending announced again (a duplicate signal) creates nothing new.
    events.create_deliveries(request, "request.completed")
    assert WebhookDelivery.objects.filter(request=request).count() == 1


def test_secrets_are_not_in_logs_nor_in_plain_text_in_rows(alice, receiver, allow_loopback, caplog):
    caplog.set_level(logging.DEBUG)
    _endpoint_id, secret = _register(alice, receiver.url)
    answer = alice.client.post(
        "/api/media/analyze",
        {"media_url": "http://127.0.0.1:9/clip.mp4", "prompt": "hi", "callback_url": receiver.url},
        format="json",
    )
    assert answer.status_code == 202, answer.content
    callback_secret = answer.json()["callback_secret"]
    request = processing_request(alice.user)
    end_request(request)
    for sent in WebhookDelivery.objects.all():
        drain(sent.pk)
    assert len(receiver.received) == 1
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for value in (secret, callback_secret):
        raw = value.removeprefix("whsec_")
        assert raw not in logged
        with connection.cursor() as cursor:
            for table in ("webhook_endpoints", "webhook_callback_secrets", "webhook_deliveries"):
                cursor.execute(f"SELECT * FROM {table}")
                assert raw not in repr(cursor.fetchall())


def test_callback_deliveries_are_signed_with_the_owners_callback_secret(
    alice, receiver, allow_loopback
):
    answer = alice.client.post(
        "/api/media/analyze",
        {"media_url": "http://127.0.0.1:9/clip.mp4", "prompt": "hi", "callback_url": receiver.url},
        format="json",
    )
    secret = answer.json()["callback_secret"]
    services.cancel_request(answer.json()["id"])
    sent = WebhookDelivery.objects.get(request_id=answer.json()["id"])
    assert sent.event == "request.cancelled" and sent.target == "callback"
    assert drain(sent.pk).status == DeliveryStatus.DELIVERED
    [post] = receiver.received
    assert signing.verify(secret, post.headers, post.body)


def test_the_metrics_page_shows_deliveries_and_latency(alice, receiver, allow_loopback, client):
    _register(alice, receiver.url)
    request = processing_request(alice.user)
    end_request(request)
    drain(WebhookDelivery.objects.get(request=request).pk)
    page = client.get("/metrics", **SCRAPE).content.decode()
    assert 'media_analysis_webhook_deliveries_total{outcome="delivered"} 1.0' in page
    assert "media_analysis_webhook_attempt_seconds_count 1.0" in page
    assert "media_analysis_webhook_delivery_latency_seconds_count 1.0" in page


def test_without_the_key_a_worker_refuses_to_deliver_and_the_delivery_waits(
    alice, receiver, allow_loopback, settings
):
    _register(alice, receiver.url)
    request = processing_request(alice.user)
    end_request(request)
    sent = WebhookDelivery.objects.get(request=request)
    settings.WEBHOOK_ENCRYPTION_KEY = []
    with pytest.raises(vault.WebhooksNotConfigured, match="WEBHOOK_ENCRYPTION_KEY"):
        delivery.attempt(sent.pk)
    sent.refresh_from_db()
    assert sent.status == DeliveryStatus.PENDING and sent.attempts == 0
    assert receiver.received == []


def test_beat_publishes_a_due_delivery_whose_message_was_lost(alice, receiver, allow_loopback):
    _register(alice, receiver.url)
    request = processing_request(alice.user)
    end_request(request)
    sent = WebhookDelivery.objects.get(request=request)
    assert sent.queued_until is not None  # published after the commit
    WebhookDelivery.objects.filter(pk=sent.pk).update(queued_until=None)  # the broker lost it
    assert events.dispatch_due() == 1
    assert events.dispatch_due() == 0  # on its way now: not published again
    sent.refresh_from_db()
    assert sent.queued_until > timezone.now()


def test_a_webhook_fault_does_not_undo_the_ending(alice, receiver, allow_loopback, monkeypatch):
    _register(alice, receiver.url)

    def broken(request_id):
        raise RuntimeError("serializer bug")

    monkeypatch.setattr(events, "status_body", broken)
    request = processing_request(alice.user)
    end_request(request)
    request.refresh_from_db()
    assert request.status == AnalysisStatus.COMPLETED
    assert not WebhookDelivery.objects.exists()
