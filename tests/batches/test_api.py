"""Batches through the API: every item checked before any is created, one
transaction for all, progress per status, owner scope and Idempotency-Key."""

from __future__ import annotations

import pytest

from analysis.batches.models import AnalysisBatch
from analysis.models import AnalysisRequest
from analysis.models_api import IdempotencyKey

pytestmark = pytest.mark.django_db

URL = "http://93.184.216.34/clip.mp4"  # a public address literal: no DNS needed
BATCH = "/api/media/analyze/batch"


def item(**fields) -> dict:
    return {"media_url": URL, "prompt": "Describe it", **fields}


def test_one_bad_item_creates_nothing(alice):
    body = {"items": [item(), item(), item(provider="nonesuch"), item()]}
    answer = alice.client.post(BATCH, body, format="json")

    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["code"] == "batch_invalid"
    assert [problem["index"] for problem in error["items"]] == [2]
    assert AnalysisRequest.objects.count() == 0 and AnalysisBatch.objects.count() == 0


def test_each_bad_item_is_listed_with_its_index_and_field(alice):
    body = {
        "items": [
            item(),
            item(prompt=""),
            item(provider="nonesuch"),
            item(media_url="http://127.0.0.1/private.mp4"),
            item(options={"frames": "many"}),
        ]
    }
    answer = alice.client.post(BATCH, body, format="json")

    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["code"] == "batch_invalid" and error["field"] == "items"
    assert error["message"].startswith("4 of 5 items are invalid")
    named = {(problem["index"], problem.get("field")) for problem in error["items"]}
    assert named == {(1, "prompt"), (2, "provider"), (3, "media_url"), (4, "options.frames")}
    codes = {problem["index"]: problem["code"] for problem in error["items"]}
    assert codes[1] == "prompt_required" and codes[2] == "unknown_provider"
    assert codes[3] == "url_private_address"
    assert AnalysisRequest.objects.count() == 0 and AnalysisBatch.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"items": []}, "invalid_items"),
        ({"items": [item()] * 101}, "items_too_long"),
        ({"items": "nope"}, "invalid_items"),
        ({}, "items_required"),
        ({"items": [item()], "callback_url": "http://10.0.0.1/hook"}, "url_private_address"),
    ],
)
def test_a_bad_envelope_is_refused(alice, body, code):
    answer = alice.client.post(BATCH, body, format="json")

    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["code"] == code
    assert AnalysisRequest.objects.count() == 0 and AnalysisBatch.objects.count() == 0


def test_a_good_batch_is_created_whole_and_shows_its_progress(alice):
    answer = alice.client.post(
        BATCH, {"items": [item(prompt=f"Question {n}") for n in range(3)]}, format="json"
    )

    assert answer.status_code == 202, answer.content
    accepted = answer.json()
    assert accepted["item_count"] == 3 and len(accepted["item_ids"]) == 3
    assert answer["Location"] == accepted["status_url"] == f"/api/media/batch/{accepted['id']}"
    prompts = [AnalysisRequest.objects.get(pk=pk).prompt for pk in accepted["item_ids"]]
    assert prompts == ["Question 0", "Question 1", "Question 2"]
    assert set(
        AnalysisRequest.objects.filter(batch_id=accepted["id"]).values_list("owner", flat=True)
    ) == {alice.user.pk}

    progress = alice.client.get(accepted["status_url"]).json()
    assert progress["status"] == "running" and progress["completed_at"] is None
    assert progress["counts"]["pending"] == 3 and sum(progress["counts"].values()) == 3
    assert [entry["id"] for entry in progress["items"]] == accepted["item_ids"]
    assert progress["items"][0]["status_url"] == f"/api/media/status/{accepted['item_ids'][0]}"


def test_batches_are_owner_scoped(alice, bob, staff):
    batch_id = alice.client.post(BATCH, {"items": [item()]}, format="json").json()["id"]

    assert bob.client.get(f"/api/media/batch/{batch_id}").status_code == 404
    assert staff.client.get(f"/api/media/batch/{batch_id}").status_code == 200
    assert alice.client.get("/api/media/batch/not-a-uuid").json()["error"]["field"] == "id"


def test_an_idempotency_key_returns_the_first_batch(alice):
    body = {"items": [item(), item(prompt="Second")]}
    headers = {"HTTP_IDEMPOTENCY_KEY": "batch-2026-12-02"}
    first = alice.client.post(BATCH, body, format="json", **headers)
    again = alice.client.post(BATCH, body, format="json", **headers)
    other = alice.client.post(BATCH, {"items": [item()]}, format="json", **headers)

    assert first.status_code == again.status_code == 202
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["item_ids"] == first.json()["item_ids"]
    assert other.status_code == 422
    assert AnalysisBatch.objects.count() == 1 and AnalysisRequest.objects.count() == 2
    assert IdempotencyKey.objects.get().batch_id is not None


def test_a_key_used_for_a_single_request_is_not_a_batch(alice):
    headers = {"HTTP_IDEMPOTENCY_KEY": "shared-key"}
    single = alice.client.post("/api/media/analyze", item(), format="json", **headers)
    batch = alice.client.post(BATCH, {"items": [item()]}, format="json", **headers)

    assert single.status_code == 202 and batch.status_code == 422
    assert AnalysisBatch.objects.count() == 0


def test_a_user_over_budget_gets_429_and_no_batch(alice, settings):
    from decimal import Decimal

    settings.BUDGET_DAILY_USD = Decimal("0")  # nothing left today: at the limit
    answer = alice.client.post(BATCH, {"items": [item(), item()]}, format="json")

    assert answer.status_code == 429, answer.content
    error = answer.json()["error"]
    assert error["code"] == "budget_exceeded" and error["resets_at"]
    assert answer["Retry-After"]
    assert AnalysisRequest.objects.count() == 0 and AnalysisBatch.objects.count() == 0
