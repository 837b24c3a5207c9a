"""Each user's budgets and the ``budget_exceeded`` refusal.

A user has a daily and a monthly limit in USD: their own (``UserBudget``, set in
the admin) or the default from the environment (``BUDGET_DAILY_USD`` /
``BUDGET_MONTHLY_USD``; empty = unlimited). Periods are UTC: today's budget resets
at the next 00:00 UTC, this month's on the 1st of the next month at 00:00 UTC.

Used counts what was recorded (``usage.spent_since``) plus what running analyses
hold (``usage.reserved``). The same limits are checked on submit
(:func:`check_submit_budget`: a user already at or over a limit gets 429) and
before each provider call (``analysis/costs/guard.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

from analysis.costs import usage
from analysis.costs.models import UserBudget
from media_analysis.errors import ServiceError

BUDGET_EXCEEDED = "budget_exceeded"
DAILY, MONTHLY, REQUEST = "daily", "monthly", "request"


class BudgetExceeded(ServiceError):
    """A budget does not allow this. On submit: HTTP 429 with ``resets_at`` and
    Retry-After; in a run: the request fails with ``budget_exceeded``."""

    http_status = 429

    def __init__(
        self,
        limit: str,
        message: str,
        *,
        limit_usd: Decimal,
        used_usd: Decimal,
        resets_at: datetime | None,
    ) -> None:
        super().__init__(BUDGET_EXCEEDED, message)
        self.limit = limit
        self.limit_usd = limit_usd
        self.used_usd = used_usd
        self.resets_at = resets_at

    def details(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "limit_usd": str(self.limit_usd),
            "used_usd": str(self.used_usd),
            "resets_at": self.resets_at.isoformat() if self.resets_at else None,
        }

    def http_headers(self) -> dict[str, str]:
        if self.resets_at is None:
            return {}
        seconds = (self.resets_at - usage.now()).total_seconds()
        return {"Retry-After": str(max(1, math.ceil(seconds)))}

    @property
    def failure_metadata(self) -> dict[str, Any]:
        return {"budget": self.details()}


@dataclass(frozen=True)
class Limits:
    """A user's limits in USD; None is unlimited."""

    daily: Decimal | None
    monthly: Decimal | None

    @property
    def any(self) -> bool:
        return self.daily is not None or self.monthly is not None


def limits_for(owner_id: int | None) -> Limits:
    """The user's own limits where set, else the environment's."""
    daily, monthly = settings.BUDGET_DAILY_USD, settings.BUDGET_MONTHLY_USD
    if owner_id is not None:
        own = UserBudget.objects.filter(user_id=owner_id).values("daily_usd", "monthly_usd").first()
        if own:
            daily = own["daily_usd"] if own["daily_usd"] is not None else daily
            monthly = own["monthly_usd"] if own["monthly_usd"] is not None else monthly
    return Limits(daily=_usd(daily), monthly=_usd(monthly))


@dataclass(frozen=True)
class Standing:
    """Where a user stands in one period: the limit (None: unlimited), what was
    recorded, what running analyses hold, and when the period resets."""

    period: str
    limit: Decimal | None
    spent: Decimal
    reserved: Decimal
    resets_at: datetime

    @property
    def used(self) -> Decimal:
        return self.spent + self.reserved

    @property
    def remaining(self) -> Decimal | None:
        return None if self.limit is None else max(self.limit - self.used, Decimal(0))

    def refusal(self, message: str) -> BudgetExceeded:
        return BudgetExceeded(
            self.period,
            message,
            limit_usd=self.limit or Decimal(0),
            used_usd=self.used,
            resets_at=self.resets_at,
        )


def standings(
    owner_id: int, *, now: datetime | None = None, exclude_request=None
) -> tuple[Standing, Standing]:
    """Today's and this month's standing of ``owner_id``."""
    now = now or usage.now()
    limits = limits_for(owner_id)
    held = usage.reserved(owner_id, now=now, exclude_request=exclude_request)
    return (
        Standing(
            DAILY,
            limits.daily,
            usage.spent_since(owner_id, usage.day_start(now)),
            held,
            usage.next_day(now),
        ),
        Standing(
            MONTHLY,
            limits.monthly,
            usage.spent_since(owner_id, usage.month_start(now)),
            held,
            usage.next_month(now),
        ),
    )


def check_submit_budget(owner: Any, estimated_usd: Decimal | None = None) -> None:
    """Refuse (:class:`BudgetExceeded`, 429) a submission by ``owner`` who is at or
    over their daily or monthly budget, or whom ``estimated_usd`` more would take
    over it (a batch can pass the sum of its estimates). No owner (a management
    command) or no limit: nothing to check."""
    owner_id = getattr(owner, "pk", None)
    if owner_id is None or not limits_for(owner_id).any:
        return
    extra = max(Decimal(estimated_usd or 0), Decimal(0))
    for standing in standings(owner_id):
        if standing.limit is None:
            continue
        if standing.used >= standing.limit or standing.used + extra > standing.limit:
            raise standing.refusal(
                f"The {standing.period} budget of {standing.limit} USD is used up "
                f"({standing.used} USD spent or held"
                + (f", {extra} USD more estimated" if extra else "")
                + f"); it resets at {standing.resets_at.isoformat()}."
            )


def _usd(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)
