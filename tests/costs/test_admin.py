"""User budgets in the staff console: listed with the limits in force and today's
spend, and set per user (an empty field keeps the environment's default)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from analysis.costs.budgets import limits_for
from analysis.costs.models import UserBudget
from tests.costs.conftest import record_spend

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = get_user_model().objects.create_superuser("boss", password="pw-boss-123")
    client.force_login(admin)
    return client


def test_staff_set_a_users_budget_and_it_applies(admin_client, alice, settings):
    settings.BUDGET_MONTHLY_USD = Decimal("20")
    response = admin_client.post(
        "/admin/analysis/userbudget/add/",
        {"user": alice.user.pk, "daily_usd": "2.5", "monthly_usd": ""},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    limits = limits_for(alice.user.pk)
    assert (limits.daily, limits.monthly) == (Decimal("2.5"), Decimal("20"))


def test_a_negative_budget_is_refused_in_the_admin(admin_client, alice):
    response = admin_client.post(
        "/admin/analysis/userbudget/add/", {"user": alice.user.pk, "daily_usd": "-1"}
    )
    assert response.status_code == 200  # the form again, with the error
    assert not UserBudget.objects.exists()


def test_the_list_shows_the_limits_and_todays_spend(admin_client, alice, settings):
    settings.BUDGET_MONTHLY_USD = None
    UserBudget.objects.create(user=alice.user, daily_usd=Decimal("1"))
    record_spend(alice.user, "0.125000")
    page = admin_client.get("/admin/analysis/userbudget/").content.decode()
    assert "alice" in page and "0.125000" in page and "default (unlimited)" in page
