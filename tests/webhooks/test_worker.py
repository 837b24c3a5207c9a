"""End to end through a real Celery worker (celery.contrib.pytest's, consuming
from the test Redis): an upload with a callback_url is analysed, its ending
creates deliveries, the worker delivers them over HTTP, retrying a receiver that
fails twice (countdown messages) until it answers 2xx."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from analysis.webhooks import signing
from analysis.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from tests.conftest import wait_until
from tests.processing.media_factory import make_image
from tests.webhooks.receiver import start_receiver

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_worker_delivers_signed_callbacks_and_retries_with_one_webhook_id(
    alice, allow_loopback, celery_worker, tmp_path
):
    callback, flaky = start_receiver(), start_receiver(script=[500, 502])
    try:
        endpoint = alice.client.post("/api/webhooks", {"url": flaky.url}, format="json").json()
        image = make_image(tmp_path / "photo.jpg", size=(320, 200))
        answer = alice.client.post(
            "/api/media/analyze",
            {
                "file": SimpleUploadedFile("photo.jpg", image.read_bytes(), "image/jpeg"),
                "prompt": "Describe",
                "callback_url": callback.url,
            },
            format="multipart",
        )
        assert answer.status_code == 202, answer.content
        request_id, secret = answer.json()["id"], answer.json()["callback_secret"]

        wait_until(lambda: callback.received, 90, "the callback delivery")
        wait_until(lambda: len(flaky.received) >= 3, 30, "the endpoint's third attempt")
        wait_until(
            lambda: not WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).exists(),
            10,
            "both deliveries to settle",
        )

        [post] = callback.received
        assert signing.verify(secret, post.headers, post.body)
        status = alice.client.get(f"/api/media/status/{request_id}").json()
        assert json.loads(post.body) == status and status["status"] == "completed"

        ids = {item.headers["webhook-id"] for item in flaky.received}
        assert len(flaky.received) == 3 and len(ids) == 1
        assert all(signing.verify(endpoint["secret"], p.headers, p.body) for p in flaky.received)
        assert list(
            WebhookAttempt.objects.filter(delivery__endpoint_id=endpoint["id"])
            .order_by("number")
            .values_list("status_code", flat=True)
        ) == [500, 502, 200]
    finally:
        callback.stop()
        flaky.stop()
