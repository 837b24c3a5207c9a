"""User budgets in the staff console: a list of their own, each overriding the
environment's defaults (BUDGET_DAILY_USD / BUDGET_MONTHLY_USD) for one user."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin

from analysis.costs import usage
from analysis.costs.models import UserBudget


@admin.register(UserBudget)
class UserBudgetAdmin(admin.ModelAdmin):
    list_display = ("user", "daily", "monthly", "spent_today", "spent_this_month", "updated_at")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)
    readonly_fields = ("updated_at",)

    @admin.display(description="daily USD")
    def daily(self, obj: UserBudget) -> str:
        return _limit(obj.daily_usd, settings.BUDGET_DAILY_USD)

    @admin.display(description="monthly USD")
    def monthly(self, obj: UserBudget) -> str:
        return _limit(obj.monthly_usd, settings.BUDGET_MONTHLY_USD)

    @admin.display(description="spent today (UTC)")
    def spent_today(self, obj: UserBudget) -> str:
        return str(usage.spent_since(obj.user_id, usage.day_start(usage.now())))

    @admin.display(description="spent this month (UTC)")
    def spent_this_month(self, obj: UserBudget) -> str:
        return str(usage.spent_since(obj.user_id, usage.month_start(usage.now())))


def _limit(own, default) -> str:
    if own is not None:
        return str(own)
    return f"default ({default})" if default is not None else "default (unlimited)"
