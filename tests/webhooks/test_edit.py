"""``PATCH /api/webhooks/{id}`` and ``POST /api/webhooks/{id}/rotate-secret``:
owner-scoped edits, the address rule and event filter checked again, enabling
again (the disabled reason and failure streak cleared) and disabling by hand, and
a new secret that signs every later attempt at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analysis.webhooks import delivery, signing, vault
from analysis.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests.api.conftest import error_of
from tests.webhooks.conftest import drain, end_request, processing_request

pytestmark = [pytest.mark.django_db(transaction=True)]

PUBLIC_IP_URL = "http://93.184.215.14/hooks"


def _register(caller, url: str = PUBLIC_IP_URL, **fields) -> dict:
    answer = caller.client.post("/api/webhooks", {"url": url, **fields}, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def _patch(caller, endpoint_id: str, body):
    return caller.client.patch(f"/api/webhooks/{endpoint_id}", body, format="json")


def _row(endpoint_id: str) -> dict:
    return WebhookEndpoint.objects.values().get(pk=endpoint_id)


def test_patch_changes_only_the_fields_sent(alice, allow_loopback):
    created = _register(alice, description="first")
    answer = _patch(
        alice,
        created["id"],
        {"url": "http://127.0.0.1:9/new", "events": ["request.failed"], "description": "second"},
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["url"] == "http://127.0.0.1:9/new"
    assert body["events"] == ["request.failed"] and body["description"] == "second"
    assert "secret" not in body
    assert alice.client.get(f"/api/webhooks/{created['id']}").json() == body
    only = _patch(alice, created["id"], {"description": ""}).json()
    assert only["description"] == "" and only["url"] == "http://127.0.0.1:9/new"
    assert only["events"] == ["request.failed"]


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"url": "http://10.1.2.3/in"}, "url", "url_private_address"),
        ({"url": "ftp://93.184.215.14/in"}, "url", None),
        ({"url": ""}, "url", None),
        ({"events": []}, "events", None),
        ({"events": ["request.exploded"]}, "events", None),
        ({"enabled": "yes"}, "enabled", None),
        ({"description": 12}, "description", None),
        ({"secret": "whsec_AAAA"}, "secret", "secret_read_only"),
    ],
)
def test_bad_changes_are_a_400_naming_the_field_and_change_nothing(alice, body, field, code):
    created = _register(alice)
    before = _row(created["id"])
    answer = _patch(alice, created["id"], body)
    assert answer.status_code == 400, answer.content
    error = error_of(answer)
    assert error["field"] == field
    if code:
        assert error["code"] == code
    assert _row(created["id"]) == before


def test_patch_and_rotation_are_owner_scoped(alice, bob):
    created = _register(alice)
    before = _row(created["id"])
    assert _patch(bob, created["id"], {"enabled": False}).status_code == 404
    assert _patch(bob, created["id"], {"url": "http://10.0.0.1/"}).status_code == 404
    assert bob.client.post(f"/api/webhooks/{created['id']}/rotate-secret").status_code == 404
    assert _row(created["id"]) == before
    assert error_of(_patch(alice, "nope", {"enabled": False}))["field"] == "id"


def test_enabling_a_disabled_endpoint_clears_its_reason_and_failure_streak(
    alice, receiver, allow_loopback
):
    created = _register(alice, receiver.url)
    # Three days of failures disabled it; its owner sees why.
    WebhookEndpoint.objects.filter(pk=created["id"]).update(
        failing_since=timezone.now() - timedelta(days=3, minutes=1)
    )
    receiver.script = [500]
    end_request(processing_request(alice.user))
    drain(WebhookDelivery.objects.get().pk)
    shown = alice.client.get(f"/api/webhooks/{created['id']}").json()
    assert shown["enabled"] is False
    assert "failed" in shown["disabled_reason"] and shown["disabled_at"]

    enabled = _patch(alice, created["id"], {"enabled": True}).json()
    assert enabled["enabled"] is True
    assert enabled["disabled_reason"] is None and enabled["disabled_at"] is None
    assert enabled["failing_since"] is None

    # The 3-day rule starts afresh: one failure now is a retry, not a disabling.
    receiver.script = [500]
    request = processing_request(alice.user)
    end_request(request)
    done = drain(WebhookDelivery.objects.get(request=request).pk)
    assert done.status == DeliveryStatus.DELIVERED and done.attempts == 2
    assert _row(created["id"])["enabled"] is True


def test_disabling_by_hand_cancels_what_waits_and_says_so(alice, receiver, allow_loopback):
    created = _register(alice, receiver.url)
    receiver.script = [500] * 5
    request = processing_request(alice.user)
    end_request(request)
    pending = WebhookDelivery.objects.get(request=request)
    answer = _patch(alice, created["id"], {"enabled": False})
    assert answer.status_code == 200
    shown = answer.json()
    assert shown["enabled"] is False and "by hand" in shown["disabled_reason"]
    assert shown["disabled_at"]
    pending.refresh_from_db()
    assert pending.status == DeliveryStatus.CANCELLED
    end_request(processing_request(alice.user))
    assert WebhookDelivery.objects.count() == 1  # a disabled endpoint hears nothing
    again = _patch(alice, created["id"], {"enabled": False}).json()
    assert again["disabled_at"] == shown["disabled_at"]  # already off: unchanged


def test_a_rotated_secret_signs_every_later_attempt_and_the_old_one_stops(
    alice, receiver, allow_loopback
):
    created = _register(alice, receiver.url)
    old = created["secret"]
    receiver.script = [500]
    request = processing_request(alice.user)
    end_request(request)
    pending = WebhookDelivery.objects.get(request=request)
    delivery.attempt(pending.pk)  # the first attempt fails, signed with the old secret
    assert signing.verify(old, receiver.received[0].headers, receiver.received[0].body)

    rotated = alice.client.post(f"/api/webhooks/{created['id']}/rotate-secret")
    assert rotated.status_code == 201, rotated.content
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old and rotated.json()["created_at"]
    assert vault.decrypt(_row(created["id"])["secret_encrypted"]) == new
    assert "secret" not in alice.client.get(f"/api/webhooks/{created['id']}").json()

    assert drain(pending.pk).status == DeliveryStatus.DELIVERED  # the retry
    retry = receiver.received[1]
    assert retry.headers["webhook-id"] == receiver.received[0].headers["webhook-id"]
    assert signing.verify(new, retry.headers, retry.body)
    assert not signing.verify(old, retry.headers, retry.body)
