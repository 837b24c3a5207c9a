"""``/api/webhooks`` and ``callback_url``: owner-scoped endpoints, the secret
shown once, the media URL's address rule at registration, event filters."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings

from analysis.webhooks.models import CallbackSecret, WebhookEndpoint
from tests.api.conftest import error_of, jpeg_bytes

pytestmark = pytest.mark.django_db

PUBLIC_IP_URL = "http://93.184.215.14/hooks"  # an IP literal: no DNS needed


def test_registering_shows_the_secret_once_and_stores_it_encrypted(alice, allow_loopback):
    answer = alice.client.post(
        "/api/webhooks",
        {"url": "http://127.0.0.1:9/in", "events": ["request.completed", "batch.completed"]},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["request.completed", "batch.completed"]
    assert body["enabled"] is True and body["disabled_reason"] is None

    listed = alice.client.get("/api/webhooks").json()
    assert [item["id"] for item in listed] == [body["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in alice.client.get(f"/api/webhooks/{body['id']}").json()

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM webhook_endpoints WHERE id = %s", [body["id"]])
        row = " ".join(map(str, cursor.fetchone()))
    assert body["secret"] not in row and body["secret"].removeprefix("whsec_") not in row


def test_events_default_to_every_request_event_and_unknown_ones_are_refused(alice):
    answer = alice.client.post("/api/webhooks", {"url": PUBLIC_IP_URL}, format="json")
    assert answer.status_code == 201
    assert answer.json()["events"] == ["request.completed", "request.failed", "request.cancelled"]
    refused = alice.client.post(
        "/api/webhooks", {"url": PUBLIC_IP_URL, "events": ["request.exploded"]}, format="json"
    )
    assert refused.status_code == 400
    assert error_of(refused)["field"] == "events"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/in", "http://10.1.2.3/in", "http://169.254.169.254/latest"]
)
def test_a_private_endpoint_address_is_refused_naming_the_field(alice, url):
    answer = alice.client.post("/api/webhooks", {"url": url}, format="json")
    assert answer.status_code == 400
    error = error_of(answer)
    assert error["field"] == "url" and error["code"] == "url_private_address"
    assert not WebhookEndpoint.objects.exists()


def test_endpoints_are_owner_scoped(alice, bob):
    created = alice.client.post("/api/webhooks", {"url": PUBLIC_IP_URL}, format="json").json()
    assert bob.client.get("/api/webhooks").json() == []
    assert bob.client.get(f"/api/webhooks/{created['id']}").status_code == 404
    assert bob.client.delete(f"/api/webhooks/{created['id']}").status_code == 404
    assert alice.client.delete(f"/api/webhooks/{created['id']}").status_code == 204
    assert alice.client.get("/api/webhooks").json() == []


def test_a_bad_id_is_a_400_and_the_cap_is_a_409(alice, settings):
    assert error_of(alice.client.get("/api/webhooks/nope"))["field"] == "id"
    settings.WEBHOOK_MAX_ENDPOINTS_PER_USER = 1
    assert (
        alice.client.post("/api/webhooks", {"url": PUBLIC_IP_URL}, format="json").status_code == 201
    )
    again = alice.client.post("/api/webhooks", {"url": PUBLIC_IP_URL}, format="json")
    assert again.status_code == 409 and error_of(again)["code"] == "too_many_webhooks"


def test_without_the_encryption_key_registration_is_a_503_naming_it(alice, settings):
    settings.WEBHOOK_ENCRYPTION_KEY = []
    answer = alice.client.post("/api/webhooks", {"url": PUBLIC_IP_URL}, format="json")
    assert answer.status_code == 503
    error = error_of(answer)
    assert error["code"] == "webhooks_not_configured"
    assert "WEBHOOK_ENCRYPTION_KEY" in error["message"]


@pytest.mark.parametrize("callback", ["http://127.0.0.1:8080/hook", "http://192.168.1.20/hook"])
def test_a_private_callback_url_is_refused_naming_the_field(alice, callback):
    answer = alice.client.post(
        "/api/media/analyze",
        {"media_url": "http://93.184.215.14/clip.mp4", "prompt": "hi", "callback_url": callback},
        format="json",
    )
    assert answer.status_code == 400
    error = error_of(answer)
    assert error["field"] == "callback_url" and error["code"] == "url_private_address"
    upload = alice.client.post(
        "/api/media/analyze",
        {"file": _jpeg(), "prompt": "hi", "callback_url": callback},
        format="multipart",
    )
    assert upload.status_code == 400 and error_of(upload)["field"] == "callback_url"
    assert not CallbackSecret.objects.exists()


def test_the_callback_secret_is_in_the_first_answer_only_and_can_be_replaced(alice):
    def submit():
        return alice.client.post(
            "/api/media/analyze",
            {"file": _jpeg(), "prompt": "hi", "callback_url": PUBLIC_IP_URL},
            format="multipart",
        )

    first = submit()
    assert first.status_code == 202, first.content
    secret = first.json()["callback_secret"]
    assert secret.startswith("whsec_")
    assert "callback_secret" not in submit().json()
    rotated = alice.client.post("/api/webhooks/callback-secret")
    assert rotated.status_code == 201
    assert rotated.json()["secret"].startswith("whsec_") and rotated.json()["secret"] != secret


@override_settings(MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS=True)
def test_the_callback_url_is_kept_with_the_request_not_shown_in_its_status(alice):
    answer = alice.client.post(
        "/api/media/analyze",
        {"file": _jpeg(), "prompt": "hi", "callback_url": "http://127.0.0.1:9/hook?t=1"},
        format="multipart",
    )
    assert answer.status_code == 202
    from analysis.models import AnalysisRequest

    request = AnalysisRequest.objects.get(pk=answer.json()["id"])
    assert request.metadata["callback_url"] == "http://127.0.0.1:9/hook?t=1"
    status = alice.client.get(f"/api/media/status/{request.id}").content.decode()
    assert "127.0.0.1:9/hook" not in status


def _jpeg():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("p.jpg", jpeg_bytes(), content_type="image/jpeg")
