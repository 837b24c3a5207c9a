"""A batch settles once: when its last item ends, in that item's transaction, with
one ``batch.completed`` delivery per target (real PostgreSQL, Redis and HTTP)."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection, transaction

from analysis import services, transitions
from analysis.batches.models import AnalysisBatch
from analysis.models import AnalysisRequest, AnalysisStatus
from analysis.webhooks import signing
from analysis.webhooks.models import WebhookDelivery
from tests.webhooks.conftest import drain
from tests.webhooks.receiver import start_receiver

BATCH = "/api/media/analyze/batch"
URL = "http://93.184.216.34/clip.mp4"
S = AnalysisStatus


def submit(caller, count: int, **envelope) -> dict:
    items = [{"media_url": URL, "prompt": f"Item {n}"} for n in range(count)]
    answer = caller.client.post(BATCH, {"items": items, **envelope}, format="json")
    assert answer.status_code == 202, answer.content
    return answer.json()


def move(request_id, state: str) -> None:
    with transaction.atomic():
        locked = AnalysisRequest.objects.select_for_update().get(pk=request_id)
        transitions.move(locked, state, reason="test")


def end(request_id, state: str) -> None:
    """pending -> processing -> ``state`` (cancelled straight from pending)."""
    if state != S.CANCELLED:
        move(request_id, S.PROCESSING)
    move(request_id, state)


def batch_deliveries(batch_id) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.filter(batch_id=batch_id, event="batch.completed"))


@pytest.mark.django_db
def test_the_batch_completes_when_its_last_item_ends_whatever_the_outcomes(alice):
    accepted = submit(alice, 3)
    first, second, third = accepted["item_ids"]

    end(first, S.COMPLETED)
    end(second, S.FAILED)
    assert AnalysisBatch.objects.get(pk=accepted["id"]).completed_at is None
    assert alice.client.get(accepted["status_url"]).json()["status"] == "running"

    end(third, S.CANCELLED)
    progress = alice.client.get(accepted["status_url"]).json()
    assert progress["status"] == "completed" and progress["completed_at"] is not None
    counts = {status: n for status, n in progress["counts"].items() if n}
    assert counts == {"completed": 1, "failed": 1, "cancelled": 1}


@pytest.mark.django_db
def test_batch_completed_is_sent_once_signed_to_endpoints_and_the_callback(
    alice, allow_loopback, receiver
):
    callback, requests_only = start_receiver(), start_receiver()
    try:
        endpoint = alice.client.post(
            "/api/webhooks", {"url": receiver.url, "events": ["batch.completed"]}, format="json"
        ).json()
        alice.client.post("/api/webhooks", {"url": requests_only.url}, format="json")
        accepted = submit(alice, 2, callback_url=callback.url)

        for item_id in accepted["item_ids"]:
            end(item_id, S.COMPLETED)
        deliveries = {row.target: row for row in batch_deliveries(accepted["id"])}
        assert set(deliveries) == {"callback", f"endpoint:{endpoint['id']}"}
        for row in deliveries.values():
            assert drain(row.id).status == "delivered"
        for pending in WebhookDelivery.objects.filter(request__isnull=False):
            drain(pending.id)

        [to_endpoint], [to_callback] = receiver.received, callback.received
        assert all(
            post.headers["webhook-id"] != to_endpoint.headers["webhook-id"]
            for post in requests_only.received
        )
        assert (
            to_endpoint.headers["webhook-id"] == deliveries[f"endpoint:{endpoint['id']}"].webhook_id
        )
        assert to_callback.headers["webhook-id"] == deliveries["callback"].webhook_id
        assert signing.verify(endpoint["secret"], to_endpoint.headers, to_endpoint.body)
        assert signing.verify(accepted["callback_secret"], to_callback.headers, to_callback.body)
        body = json.loads(to_callback.body)
        assert body == json.loads(to_endpoint.body)
        assert body == alice.client.get(accepted["status_url"]).json()
        assert body["status"] == "completed" and body["counts"]["completed"] == 2
        assert {json.loads(post.body)["status"] for post in requests_only.received} == {"completed"}
        assert len(requests_only.received) == 2  # the two items' request.completed only
    finally:
        callback.stop()
        requests_only.stop()


@pytest.mark.django_db
def test_an_item_retried_after_the_batch_completed_does_not_announce_it_again(
    alice, allow_loopback, receiver
):
    alice.client.post(
        "/api/webhooks", {"url": receiver.url, "events": ["batch.completed"]}, format="json"
    )
    accepted = submit(alice, 2)
    first, second = accepted["item_ids"]
    end(first, S.COMPLETED)
    end(second, S.FAILED)
    completed_at = AnalysisBatch.objects.get(pk=accepted["id"]).completed_at

    services.retry_request(second)
    assert alice.client.get(accepted["status_url"]).json()["status"] == "running"
    end(second, S.COMPLETED)

    assert len(batch_deliveries(accepted["id"])) == 1
    assert AnalysisBatch.objects.get(pk=accepted["id"]).completed_at == completed_at


@pytest.mark.django_db(transaction=True)
def test_items_ending_at_the_same_moment_complete_the_batch_exactly_once(
    alice, allow_loopback, receiver
):
    alice.client.post(
        "/api/webhooks", {"url": receiver.url, "events": ["batch.completed"]}, format="json"
    )
    accepted = submit(alice, 8)
    for item_id in accepted["item_ids"]:
        move(item_id, S.PROCESSING)
    start = threading.Barrier(len(accepted["item_ids"]))
    errors: list[BaseException] = []

    def finish(item_id) -> None:
        try:
            start.wait()
            move(item_id, S.COMPLETED)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=finish, args=(i,)) for i in accepted["item_ids"]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not errors, errors
    assert AnalysisBatch.objects.get(pk=accepted["id"]).completed_at is not None
    assert len(batch_deliveries(accepted["id"])) == 1
