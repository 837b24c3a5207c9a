"""Webhooks end to end (issue 14) on the service as an operator runs it: gunicorn,
``celery -A media_analysis worker`` and ``beat`` as shipped, configured only with
product settings (WEBHOOK_ENCRYPTION_KEY; MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS so
a receiver on loopback passes the address rule; a short first WEBHOOK_RETRY_DELAYS).

An endpoint registered through the API and a submission's ``callback_url`` both
receive a signed ``request.completed`` for an uploaded image, verified with the
secrets the API showed. A worker SIGKILLed while a delivery waits for its retry
(the receiver answered 500) loses the retry's countdown message with it; beat
publishes the delivery again once the message's grace has passed, and the new
worker delivers it with the same webhook-id. The test prints the recovery time."""

from __future__ import annotations

import json
import time

import pytest
from cryptography.fernet import Fernet

from analysis.webhooks import signing
from analysis.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from tests.conftest import wait_until
from tests.operations.stack import submit_upload
from tests.webhooks.receiver import Received, start_receiver

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The retry's message is lost with the worker; beat (every WEBHOOK_DISPATCH_EVERY_
# SECONDS, 10) publishes the delivery again once its queued_until passed: the retry
# delay (3 s +- 20 %) + WEBHOOK_REQUEUE_GRACE_SECONDS (set to 15 here; 60 by
# default, which makes about 70 s). Plus a worker's start-up.
RECOVERY_BOUND_SECONDS = 50


@pytest.fixture
def receivers():
    endpoint, callback = start_receiver(), start_receiver()
    yield endpoint, callback
    endpoint.stop()
    callback.stop()


def _webhook_stack(stack) -> None:
    stack.env.update(
        {
            "WEBHOOK_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS": "true",
            "WEBHOOK_RETRY_DELAYS": "3,30",
            "WEBHOOK_REQUEUE_GRACE_SECONDS": "15",
        }
    )
    stack.start_web()


def _register(api, url: str) -> dict:
    answer = api.post("/api/webhooks", json={"url": url, "events": ["request.completed"]})
    assert answer.status_code == 201, answer.text
    return answer.json()


def _submit(api, image, callback_url: str) -> dict:
    answer = submit_upload(api, image, callback_url=callback_url)
    assert answer.status_code == 202, answer.text
    return answer.json()


def _check_signed_completion(post: Received, secret: str, analysis_id: str) -> dict:
    assert signing.verify(secret, post.headers, post.body), post.headers
    assert post.headers["webhook-event"] == "request.completed"
    assert post.headers["content-type"] == "application/json"
    body = json.loads(post.body)
    assert body["id"] == analysis_id and body["status"] == "completed"
    return body


def test_an_endpoint_and_a_callback_receive_a_signed_completion(stack, receivers, image):
    hooks, callback = receivers
    _webhook_stack(stack)
    stack.start_worker()
    stack.start_beat()
    with stack.api() as api:
        endpoint = _register(api, hooks.url)
        accepted = _submit(api, image, callback.url)
        analysis_id, callback_secret = accepted["id"], accepted["callback_secret"]
        wait_until(lambda: hooks.received and callback.received, 120, "both deliveries")
        status = api.get(f"/api/media/status/{analysis_id}").json()

    [post] = hooks.posts_to("/hooks/in")
    assert _check_signed_completion(post, endpoint["secret"], analysis_id) == status
    assert not signing.verify(callback_secret, post.headers, post.body)  # secrets apart
    [called] = callback.posts_to("/hooks/in")
    assert _check_signed_completion(called, callback_secret, analysis_id) == status
    assert called.headers["webhook-id"] != post.headers["webhook-id"]  # one per target

    logs = "\n".join(process.text() for process in stack.processes)
    for secret in (endpoint["secret"], callback_secret):
        assert secret.removeprefix("whsec_") not in logs


def test_a_retry_lost_with_a_killed_worker_arrives_from_a_new_one(stack, receivers, image):
    hooks, callback = receivers
    hooks.script = [500]
    _webhook_stack(stack)
    doomed = stack.start_worker()
    stack.start_beat()
    with stack.api() as api:
        endpoint = _register(api, hooks.url)
        analysis_id = _submit(api, image, callback.url)["id"]
        # The first attempt failed and its retry is scheduled (a countdown message
        # the worker holds): kill it before the retry is due.
        failed = wait_until(
            lambda: WebhookAttempt.objects.filter(
                delivery__endpoint_id=endpoint["id"], status_code=500
            ).first(),
            120,
            "the endpoint's first attempt to fail",
            every=0.05,
        )
        doomed.kill()
        died = time.monotonic()
        assert failed.next_attempt_at is not None and len(hooks.received) == 1
        stack.start_worker()  # the same command, as a restart policy would
        wait_until(lambda: len(hooks.received) >= 2, RECOVERY_BOUND_SECONDS, "the retry")
        recovered_in = time.monotonic() - died
        time.sleep(3)  # nothing else arrives (a second copy would come now)

    print(f"\nSIGKILLed worker: the webhook retry arrived {recovered_in:.1f} s after the kill")
    assert recovered_in < RECOVERY_BOUND_SECONDS
    first, retry = hooks.received
    assert len(hooks.received) == 2
    assert retry.headers["webhook-id"] == first.headers["webhook-id"]
    assert retry.body == first.body  # the same event, unchanged
    _check_signed_completion(retry, endpoint["secret"], analysis_id)
    row = WebhookDelivery.objects.get(endpoint_id=endpoint["id"])
    assert row.status == DeliveryStatus.DELIVERED and row.attempts == 2
    assert row.webhook_id == retry.headers["webhook-id"]
    assert len(callback.received) == 1  # the callback was not disturbed
