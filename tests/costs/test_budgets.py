"""Budgets: checked on submit (429 ``budget_exceeded`` with ``resets_at`` and
Retry-After, nothing created) and before every provider call (a call that could
pass what is left is not made: the local provider sees no request, and the request
fails with ``budget_exceeded``). ``options.max_cost_usd`` caps one request so."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from analysis.costs import usage
from analysis.costs.budgets import check_submit_budget, limits_for
from analysis.costs.models import CostReservation, UserBudget
from analysis.models import AnalysisRequest, AnalysisResult, AnalysisStatus
from analysis.pipeline import run_analysis
from media_analysis.env import env_usd
from tests.api.conftest import error_of
from tests.conftest import force_status
from tests.costs.conftest import record_spend

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMA = {"type": "object", "properties": {"colour": {"type": "string"}}, "required": ["colour"]}


def _submit(caller, photo, **fields):
    with photo.open("rb") as media:
        return caller.client.post(
            "/api/media/analyze",
            {"file": media, "prompt": "Describe it.", "provider": "openai", **fields},
            format="multipart",
        )


def _running(owner) -> AnalysisRequest:
    return AnalysisRequest.objects.create(
        owner=owner, media_url="http://127.0.0.1:9/a.mp4", prompt="?", metadata={"options": {}}
    )


# ----------------------------------------------------------------- periods
def test_periods_are_utc_days_and_months():
    now = datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC)
    assert usage.day_start(now) == datetime(2026, 12, 31, tzinfo=UTC)
    assert usage.next_day(now) == datetime(2027, 1, 1, tzinfo=UTC)
    assert usage.month_start(now) == datetime(2026, 12, 1, tzinfo=UTC)
    assert usage.next_month(now) == datetime(2027, 1, 1, tzinfo=UTC)
    assert usage.next_month(datetime(2026, 1, 31, 12, tzinfo=UTC)) == datetime(
        2026, 2, 1, tzinfo=UTC
    )


@pytest.mark.parametrize("value", ["-1", "abc", "NaN", "Infinity", "1e400x"])
def test_a_negative_or_junk_default_budget_refuses_to_start(monkeypatch, value):
    monkeypatch.setenv("BUDGET_DAILY_USD", value)
    with pytest.raises(ImproperlyConfigured, match="BUDGET_DAILY_USD"):
        env_usd("BUDGET_DAILY_USD")


def test_an_empty_default_budget_is_unlimited(monkeypatch):
    monkeypatch.setenv("BUDGET_DAILY_USD", "")
    assert env_usd("BUDGET_DAILY_USD") is None
    monkeypatch.setenv("BUDGET_DAILY_USD", " 2.50 ")
    assert env_usd("BUDGET_DAILY_USD") == Decimal("2.50")


def test_a_users_own_budget_overrides_the_default_where_set(alice, settings):
    settings.BUDGET_DAILY_USD, settings.BUDGET_MONTHLY_USD = Decimal("1"), Decimal("10")
    UserBudget.objects.create(user=alice.user, daily_usd=Decimal("3"))
    limits = limits_for(alice.user.pk)
    assert (limits.daily, limits.monthly) == (Decimal("3"), Decimal("10"))


# ------------------------------------------------------------------ submit
def test_a_user_over_the_daily_budget_gets_429_at_submit_and_nothing_is_created(
    alice, bob, billing, settings, photo, storage_root
):
    settings.BUDGET_DAILY_USD = Decimal("0.010")
    record_spend(alice.user, "0.010000")  # exactly at the limit: used up
    requests_before = AnalysisRequest.objects.count()
    uploads_before = list(storage_root.glob("uploads/**/*"))

    response = _submit(alice, photo)

    assert response.status_code == 429, response.content
    error = error_of(response)
    assert error["code"] == "budget_exceeded" and error["limit"] == "daily"
    tomorrow = usage.next_day(timezone.now())
    assert datetime.fromisoformat(error["resets_at"]) == tomorrow
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= 86400
    assert abs(retry_after - (tomorrow - timezone.now()).total_seconds()) < 60
    assert error["limit_usd"] == "0.010" and error["used_usd"] == "0.010000"
    assert AnalysisRequest.objects.count() == requests_before
    assert list(storage_root.glob("uploads/**/*")) == uploads_before
    assert billing.hits == 0
    # Another user's spend is theirs: bob is under the same default budget.
    assert _submit(bob, photo).status_code == 202


def test_the_monthly_budget_is_checked_too_and_resets_on_the_first(alice, billing, settings):
    settings.BUDGET_MONTHLY_USD = Decimal("0.5")
    UserBudget.objects.create(user=alice.user, daily_usd=Decimal("100"))
    record_spend(alice.user, "0.600000")
    settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = True

    response = alice.client.post(
        "/api/media/analyze",
        {"media_url": "http://127.0.0.1:9/a.mp4", "prompt": "?", "provider": "openai"},
        format="json",
    )

    assert response.status_code == 429
    error = error_of(response)
    assert error["limit"] == "monthly"
    assert datetime.fromisoformat(error["resets_at"]) == usage.next_month(timezone.now())
    assert not AnalysisRequest.objects.filter(media_url__endswith="a.mp4").exists()


def test_spend_of_earlier_periods_does_not_count(alice, settings):
    settings.BUDGET_DAILY_USD = Decimal("0.01")
    old = record_spend(alice.user, "5.000000")
    AnalysisResult.objects.filter(request=old).update(
        created_at=usage.day_start(timezone.now()) - timedelta(seconds=1)
    )
    check_submit_budget(alice.user)  # yesterday's spend: today is untouched


def test_a_batch_can_check_its_estimate_against_what_is_left(alice, settings):
    settings.BUDGET_DAILY_USD = Decimal("1")
    record_spend(alice.user, "0.700000")
    check_submit_budget(alice.user, estimated_usd=Decimal("0.3"))
    with pytest.raises(Exception) as refused:
        check_submit_budget(alice.user, estimated_usd=Decimal("0.300001"))
    assert refused.value.code == "budget_exceeded" and refused.value.http_status == 429


def test_a_retry_over_budget_gets_429(alice, settings):
    settings.BUDGET_DAILY_USD = Decimal("0.01")
    failed = record_spend(alice.user, "0.020000")
    force_status(failed.id, AnalysisStatus.FAILED)

    response = alice.client.post(f"/api/media/{failed.id}/retry")

    assert response.status_code == 429
    assert error_of(response)["code"] == "budget_exceeded"
    failed.refresh_from_db()
    assert failed.status == AnalysisStatus.FAILED and failed.retry_count == 0


# -------------------------------------------------------- before the call
def test_a_call_that_would_pass_the_budget_is_not_made_and_the_request_fails(
    alice, billing, settings, photo
):
    settings.BUDGET_DAILY_USD = Decimal("0.001")
    record_spend(alice.user, "0.000900")  # 0.0001 USD left: less than one call
    submitted = _submit(alice, photo)
    assert submitted.status_code == 202  # under the budget: accepted

    assert run_analysis(submitted.json()["id"]) == "failed"

    assert billing.hits == 0  # the provider never heard of it
    request = AnalysisRequest.objects.get(pk=submitted.json()["id"])
    assert request.status == AnalysisStatus.FAILED
    assert request.error_code == "budget_exceeded"
    assert "daily budget" in request.error_message and "not made" in request.error_message
    assert request.metadata["budget"]["limit"] == "daily"
    assert not AnalysisResult.objects.filter(request=request).exists()
    assert not CostReservation.objects.exists()  # released when the run ended


def test_a_call_within_the_budget_is_made_and_recorded(alice, billing, settings, photo):
    settings.BUDGET_DAILY_USD = Decimal("0.01")
    submitted = _submit(alice, photo)

    assert run_analysis(submitted.json()["id"]) == "completed"

    assert billing.hits == 1
    result = AnalysisResult.objects.get(request_id=submitted.json()["id"])
    assert Decimal(0) < result.cost_usd < Decimal("0.01")
    assert usage.spent_since(alice.user.pk, usage.day_start(timezone.now())) == result.cost_usd
    assert not CostReservation.objects.exists()


def test_max_cost_usd_caps_one_request_the_same_way(alice, billing, photo):
    capped = _submit(alice, photo, options=json.dumps({"max_cost_usd": "0.0001"}))
    assert capped.status_code == 202, capped.content
    assert (
        AnalysisRequest.objects.get(pk=capped.json()["id"]).metadata["options"]["max_cost_usd"]
        == "0.0001"
    )

    assert run_analysis(capped.json()["id"]) == "failed"

    assert billing.hits == 0
    request = AnalysisRequest.objects.get(pk=capped.json()["id"])
    assert request.error_code == "budget_exceeded"
    assert "max_cost_usd" in request.error_message
    assert request.metadata["budget"]["limit"] == "request"

    roomy = _submit(alice, photo, options=json.dumps({"max_cost_usd": 0.05}))
    assert run_analysis(roomy.json()["id"]) == "completed"
    assert billing.hits == 1


def test_each_call_is_checked_the_repair_ask_of_a_structured_answer_too(alice, billing, photo):
    # The first answer is prose, not JSON: the pipeline would ask again. The cap
    # leaves room for one call, so the second is refused before it is sent.
    first = _submit(alice, photo, options=json.dumps({"response_schema": SCHEMA, "force": True}))
    assert run_analysis(first.json()["id"]) == "failed"
    assert billing.hits == 2  # uncapped: asked, repaired, still prose
    # Room for the first call's ceiling (its input with the 25 % margin and a full
    # 1500-token answer), not for a second call on top of what the first cost.
    first_input = billing.calls[0]["usage"]["prompt_tokens"]
    ceiling = (
        Decimal(first_input) * Decimal("1.25") * Decimal("0.15") + 1500 * Decimal("0.60")
    ) / 10**6
    cap = (ceiling + Decimal("0.00015")).quantize(Decimal("0.000001"))

    capped = _submit(
        alice,
        photo,
        options=json.dumps({"response_schema": SCHEMA, "force": True, "max_cost_usd": str(cap)}),
    )
    assert run_analysis(capped.json()["id"]) == "failed"

    assert billing.hits == 3  # the first ask only
    request = AnalysisRequest.objects.get(pk=capped.json()["id"])
    assert request.error_code == "budget_exceeded"
    assert "max_cost_usd" in request.error_message


def test_a_model_without_a_price_is_refused_under_a_budget(alice, billing, settings, photo):
    settings.BUDGET_DAILY_USD = Decimal("5")
    submitted = _submit(alice, photo, model="local-llava")

    assert run_analysis(submitted.json()["id"]) == "failed"

    assert billing.hits == 0
    request = AnalysisRequest.objects.get(pk=submitted.json()["id"])
    assert request.error_code == "budget_exceeded" and "no price" in request.error_message


def test_a_model_without_a_price_is_allowed_without_any_limit(alice, billing, photo):
    submitted = _submit(alice, photo, model="local-llava")
    assert run_analysis(submitted.json()["id"]) == "completed"
    assert billing.hits == 1


def test_another_runs_reservation_counts_against_the_budget(alice, billing, settings, photo):
    """Two runs at once cannot both spend what is left: a run in flight holds its
    call's ceiling (CostReservation), and the next check counts it."""
    settings.BUDGET_DAILY_USD = Decimal("0.004")
    running = _running(alice.user)
    CostReservation.objects.create(
        request=running,
        owner=alice.user,
        amount_usd=Decimal("0.003500"),
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    submitted = _submit(alice, photo)
    assert submitted.status_code == 202  # 0.0035 held, under 0.004: accepted

    assert run_analysis(submitted.json()["id"]) == "failed"
    assert billing.hits == 0
    assert AnalysisRequest.objects.get(pk=submitted.json()["id"]).error_code == "budget_exceeded"

    # An expired reservation (its run died) no longer counts.
    CostReservation.objects.filter(request=running).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    again = _submit(alice, photo)
    assert run_analysis(again.json()["id"]) == "completed"
    assert billing.hits == 1


def test_concurrent_checks_share_the_budget(alice, settings):
    """Checks of one user are serialised by an advisory lock: two threads reserving
    a ceiling each of a budget that holds one see one pass and one refusal."""
    from analysis.costs.guard import RunBudget

    settings.BUDGET_DAILY_USD = Decimal("0.010")
    requests = [_running(alice.user) for _ in range(2)]
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def check(request) -> None:
        try:
            barrier.wait()
            RunBudget(request.id, alice.user.pk)._check_and_reserve(
                "openai", "gpt-4o-mini", Decimal("0.006")
            )
            outcomes.append("passed")
        except Exception as exc:
            outcomes.append(getattr(exc, "code", repr(exc)))
        finally:
            connection.close()

    threads = [threading.Thread(target=check, args=(request,)) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(outcomes) == ["budget_exceeded", "passed"]
    assert CostReservation.objects.count() == 1


def test_a_rerun_after_a_dead_run_counts_what_the_dead_run_held(alice, billing, settings, photo):
    """Recovery runs a request again when its worker died; the dead run's
    reservation (what its call cost or could cost) counts as spent by the request,
    so the rerun cannot spend the same budget again."""
    settings.BUDGET_DAILY_USD = Decimal("0.002")
    submitted = _submit(alice, photo)
    request = AnalysisRequest.objects.get(pk=submitted.json()["id"])
    CostReservation.objects.create(  # what a killed run had spent
        request=request,
        owner=alice.user,
        amount_usd=Decimal("0.001500"),
        expires_at=timezone.now() + timedelta(minutes=10),
    )

    assert run_analysis(request.id) == "failed"

    assert billing.hits == 0
    request.refresh_from_db()
    assert request.error_code == "budget_exceeded"
    assert not CostReservation.objects.exists()


def test_max_cost_usd_counts_what_a_dead_run_spent_too(alice, billing, photo):
    capped = _submit(alice, photo, options=json.dumps({"max_cost_usd": "0.002"}))
    request = AnalysisRequest.objects.get(pk=capped.json()["id"])
    CostReservation.objects.create(
        request=request,
        owner=alice.user,
        amount_usd=Decimal("0.001500"),
        expires_at=timezone.now() + timedelta(minutes=10),
    )

    assert run_analysis(request.id) == "failed"

    assert billing.hits == 0
    request.refresh_from_db()
    assert "max_cost_usd" in request.error_message
