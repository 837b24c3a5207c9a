"""``GET /api/usage``: today's and this month's (UTC) spend per provider and model,
from the recorded results; the lines add up to the totals and to the results."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from analysis.costs import usage
from analysis.costs.models import UserBudget
from analysis.models import AnalysisResult
from analysis.pipeline import run_analysis
from tests.api.conftest import error_of
from tests.costs.conftest import record_spend

pytestmark = pytest.mark.django_db(transaction=True)


def _move(request, when) -> None:
    AnalysisResult.objects.filter(request=request).update(created_at=when)


def _line(period: dict, provider: str, model: str) -> dict:
    (line,) = [
        entry
        for entry in period["by_model"]
        if (entry["provider"], entry["model"]) == (provider, model)
    ]
    return line


def test_usage_adds_up_across_providers_and_models(alice, bob, settings):
    settings.BUDGET_DAILY_USD = Decimal("1")
    now = timezone.now()
    record_spend(alice.user, "0.100000", provider="openai", model="gpt-4o-mini")
    record_spend(alice.user, "0.050000", provider="openai", model="gpt-4o-mini")
    record_spend(alice.user, "0.200000", provider="gemini", model="gemini-2.5-flash")
    record_spend(alice.user, None, provider="novita", model="qwen/qwen2.5-vl-72b-instruct")
    record_spend(alice.user, "0.000000", provider="builtin", model="builtin-report")
    earlier = record_spend(alice.user, "0.300000", provider="openrouter", model="openai/gpt-4o")
    month_start = usage.month_start(now)
    # Yesterday: this month's, not today's (on the 1st, last month's).
    _move(earlier, usage.day_start(now) - timedelta(hours=1))
    expected_month = Decimal("0.65") if usage.day_start(now) > month_start else Decimal("0.35")
    last_month = record_spend(alice.user, "9.000000", provider="openai", model="gpt-4o")
    _move(last_month, month_start - timedelta(seconds=1))
    record_spend(bob.user, "7.000000")  # someone else's

    response = alice.client.get("/api/usage")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["user"] == "alice" and body["timezone"] == "UTC"
    today, month = body["today"], body["month"]
    for period in (today, month):
        assert Decimal(period["spent_usd"]) == sum(
            Decimal(line["cost_usd"]) for line in period["by_model"]
        )
        assert period["results"] == sum(line["results"] for line in period["by_model"])
    gpt = _line(today, "openai", "gpt-4o-mini")
    assert (gpt["results"], Decimal(gpt["cost_usd"])) == (2, Decimal("0.15"))
    assert (gpt["input_tokens"], gpt["output_tokens"]) == (2000, 200)
    assert _line(today, "novita", "qwen/qwen2.5-vl-72b-instruct")["unpriced_results"] == 1
    assert Decimal(today["spent_usd"]) == Decimal("0.35")
    assert today["limit_usd"] == "1" and Decimal(today["remaining_usd"]) == Decimal("0.65")
    assert today["resets_at"] == usage.next_day(now).isoformat()
    assert month["limit_usd"] is None and month["remaining_usd"] is None
    assert {(line["provider"], line["model"]) for line in month["by_model"]} >= {
        ("openai", "gpt-4o-mini"),
        ("gemini", "gemini-2.5-flash"),
    }
    assert Decimal(month["spent_usd"]) == expected_month
    assert ("openai", "gpt-4o") not in {
        (line["provider"], line["model"]) for line in month["by_model"]
    }
    # The month's total is the recorded results' sum, to the cent and beyond.
    recorded = AnalysisResult.objects.filter(
        request__owner=alice.user, created_at__gte=month_start
    ).aggregate(total=Sum("cost_usd"))["total"]
    assert Decimal(month["spent_usd"]) == recorded


def test_usage_counts_a_real_run_as_recorded(alice, billing, photo):
    with photo.open("rb") as media:
        submitted = alice.client.post(
            "/api/media/analyze",
            {"file": media, "prompt": "Describe it.", "provider": "openai"},
            format="multipart",
        )
    assert run_analysis(submitted.json()["id"]) == "completed"
    result = AnalysisResult.objects.get(request_id=submitted.json()["id"])

    today = alice.client.get("/api/usage").json()["today"]

    assert Decimal(today["spent_usd"]) == result.cost_usd > 0
    line = _line(today, "openai", "gpt-4o-mini")
    assert (line["input_tokens"], line["output_tokens"]) == (
        result.input_tokens,
        result.output_tokens,
    )


def test_a_users_own_budget_shows_in_usage(alice, settings):
    settings.BUDGET_MONTHLY_USD = Decimal("10")
    UserBudget.objects.create(user=alice.user, daily_usd=Decimal("0.5"))
    body = alice.client.get("/api/usage").json()
    assert body["today"]["limit_usd"] == "0.500000"
    assert body["month"]["limit_usd"] == "10"
    assert body["today"]["spent_usd"] == "0.000000"


def test_staff_may_look_at_another_users_usage(alice, staff):
    record_spend(alice.user, "0.250000")
    body = staff.client.get("/api/usage", {"user": "alice"}).json()
    assert body["user"] == "alice" and Decimal(body["today"]["spent_usd"]) == Decimal("0.25")


def test_others_may_not_and_an_unknown_user_is_404(alice, bob, staff):
    record_spend(alice.user, "0.250000")
    refused = bob.client.get("/api/usage", {"user": "alice"})
    assert refused.status_code == 404 and error_of(refused)["code"] == "user_not_found"
    assert bob.client.get("/api/usage", {"user": "bob"}).json()["user"] == "bob"
    missing = staff.client.get("/api/usage", {"user": "nobody"})
    assert missing.status_code == 404


def test_a_junk_user_parameter_is_a_400(staff):
    response = staff.client.get("/api/usage", {"user": "a\x00b"})
    assert response.status_code == 400 and error_of(response)["field"] == "user"


def test_usage_needs_a_token(client):
    assert client.get("/api/usage").status_code == 401
