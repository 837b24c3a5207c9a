"""What was spent: the sum of the recorded results' costs (``AnalysisResult.cost_usd``,
the provider-reported cost where there was one, else the price table's), by the
result's ``created_at``, for the requests a user owns. Periods are UTC.

A result whose cost is unknown (a model missing from the price table, no budget
set) counts as 0 here and is counted apart (``unpriced_results``), never hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from analysis.costs.models import CostReservation
from analysis.models import AnalysisResult

ZERO = Decimal("0.000000")


# -------------------------------------------------------------------- periods
def day_start(now: datetime) -> datetime:
    """00:00 UTC of ``now``'s UTC day."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    """00:00 UTC on the 1st of ``now``'s UTC month."""
    return day_start(now).replace(day=1)


def next_day(now: datetime) -> datetime:
    """When today's (UTC) budget resets: the next 00:00 UTC."""
    return day_start(now) + timedelta(days=1)


def next_month(now: datetime) -> datetime:
    """When this month's (UTC) budget resets: 00:00 UTC on the 1st of the next month."""
    start = month_start(now)
    return (start + timedelta(days=32)).replace(day=1)


# ---------------------------------------------------------------------- spend
def spent_since(owner_id: int, since: datetime) -> Decimal:
    """The recorded cost of ``owner_id``'s results created at or after ``since``."""
    total = AnalysisResult.objects.filter(
        request__owner_id=owner_id, created_at__gte=since
    ).aggregate(total=Coalesce(Sum("cost_usd"), ZERO))["total"]
    return Decimal(total)


def reserved(owner_id: int, *, now: datetime, exclude_request=None) -> Decimal:
    """What ``owner_id``'s running analyses hold (``CostReservation``): not expired,
    and not yet recorded as a result (once recorded, the result counts instead)."""
    held = CostReservation.objects.filter(owner_id=owner_id, expires_at__gt=now).filter(
        ~Q(request__results__isnull=False)
    )
    if exclude_request is not None:
        held = held.exclude(request_id=exclude_request)
    return Decimal(held.aggregate(total=Coalesce(Sum("amount_usd"), ZERO))["total"])


@dataclass(frozen=True)
class Line:
    """One provider and model's spend in a period."""

    provider: str | None
    model: str
    results: int
    cost_usd: Decimal
    unpriced_results: int
    input_tokens: int
    output_tokens: int

    def as_dict(self) -> dict:
        return {
            "provider": self.provider,
            "model": self.model,
            "results": self.results,
            "cost_usd": str(self.cost_usd),
            "unpriced_results": self.unpriced_results,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
        }


def spend_by_model(owner_id: int, since: datetime) -> list[Line]:
    """``owner_id``'s spend since ``since`` per provider and model, costliest first."""
    rows = (
        AnalysisResult.objects.filter(request__owner_id=owner_id, created_at__gte=since)
        .values("provider", "model_used")
        .annotate(
            results=Count("id"),
            cost=Coalesce(Sum("cost_usd"), ZERO),
            unpriced=Count("id", filter=Q(cost_usd__isnull=True)),
            input_tokens=Coalesce(Sum("input_tokens"), 0),
            output_tokens=Coalesce(Sum("output_tokens"), 0),
        )
        .order_by("-cost", "provider", "model_used")
    )
    return [
        Line(
            provider=row["provider"],
            model=row["model_used"],
            results=row["results"],
            cost_usd=Decimal(row["cost"]),
            unpriced_results=row["unpriced"],
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
        )
        for row in rows
    ]


def now() -> datetime:
    return timezone.now()
