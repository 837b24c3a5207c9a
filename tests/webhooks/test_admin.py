"""The staff console: every attempt listed, redelivery with the same webhook-id,
endpoints registered with their secret shown once."""

from __future__ import annotations

import pytest

from analysis.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests.webhooks.conftest import drain, end_request, processing_request

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_the_attempts_are_listed_and_a_delivery_can_be_redelivered(
    alice, receiver, allow_loopback, admin_client
):
    alice.client.post("/api/webhooks", {"url": receiver.url}, format="json")
    receiver.script = [500]
    request = processing_request(alice.user)
    end_request(request)
    sent = drain(WebhookDelivery.objects.get(request=request).pk)
    assert sent.status == DeliveryStatus.DELIVERED

    page = admin_client.get("/admin/analysis/webhookattempt/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count(sent.webhook_id) >= 2  # both attempts
    assert "HTTP 500 Internal Server Error" in html and "retrying" in html
    assert admin_client.get(f"/admin/analysis/webhookdelivery/{sent.pk}/change/").status_code == 200

    answer = admin_client.post(
        "/admin/analysis/webhookdelivery/",
        {"action": "redeliver_selected", "_selected_action": [str(sent.pk)]},
        follow=True,
    )
    assert "queued again" in answer.content.decode()
    assert drain(sent.pk).attempts == 3
    assert [p.headers["webhook-id"] for p in receiver.received] == [sent.webhook_id] * 3


def test_staff_register_an_endpoint_and_see_its_secret_once(admin_client, alice, allow_loopback):
    answer = admin_client.post(
        "/admin/analysis/webhookendpoint/add/",
        {
            "owner": alice.user.pk,
            "url": "http://127.0.0.1:9/in",
            "description": "",
            "events": ["request.completed"],
            "enabled": "on",
        },
        follow=True,
    )
    assert answer.status_code == 200
    assert "Signing secret" in answer.content.decode() and "whsec_" in answer.content.decode()
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["request.completed"] and endpoint.owner == alice.user
    assert "whsec_" not in endpoint.secret_encrypted


def test_the_admin_refuses_a_private_endpoint_url(admin_client, alice, settings):
    settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = False
    answer = admin_client.post(
        "/admin/analysis/webhookendpoint/add/",
        {"owner": alice.user.pk, "url": "http://10.0.0.8/in", "events": ["request.failed"]},
    )
    assert answer.status_code == 200  # the form again, with the error
    assert "private" in answer.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_staff_disabling_an_endpoint_cancels_what_waits_and_its_owner_sees_why(
    admin_client, alice, receiver, allow_loopback
):
    created = alice.client.post("/api/webhooks", {"url": receiver.url}, format="json").json()
    end_request(processing_request(alice.user))
    form = {"owner": alice.user.pk, "url": receiver.url, "description": ""}
    form["events"] = created["events"]
    answer = admin_client.post(
        f"/admin/analysis/webhookendpoint/{created['id']}/change/", form, follow=True
    )  # "enabled" left out: unticked
    assert answer.status_code == 200
    shown = alice.client.get(f"/api/webhooks/{created['id']}").json()
    assert shown["enabled"] is False and "by staff" in shown["disabled_reason"]
    assert WebhookDelivery.objects.get().status == DeliveryStatus.CANCELLED

    form["enabled"] = "on"
    admin_client.post(f"/admin/analysis/webhookendpoint/{created['id']}/change/", form)
    shown = alice.client.get(f"/api/webhooks/{created['id']}").json()
    assert shown["enabled"] is True and shown["disabled_reason"] is None
