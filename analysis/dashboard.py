"""The staff dashboard (``/admin/dashboard/``): requests per day by status, latency
p50/p95 per provider, tokens and cost per provider and model, storage per
category, the disk gauge, the providers' circuit breakers and the age of the
last good backup.

Figures cover the last ``ADMIN_DASHBOARD_DAYS`` days and are cached for
``ADMIN_DASHBOARD_CACHE_SECONDS``, so reloading the page on a large table costs
one cache read. A part that cannot be measured (storage root missing, Redis
down) is shown as unavailable; the page itself never fails for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Aggregate, Count, FloatField, Sum
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from analysis import charts
from analysis.models import AnalysisRequest, AnalysisResult, AnalysisStatus
from analysis.options import PROVIDER_NAMES
from analysis.providers import available_providers
from analysis.providers.breakers import breaker_state
from storage_app.backup.status import backup_status, describe_age
from storage_app.disk import category_bytes, level_for, measure_disk

logger = logging.getLogger(__name__)

CACHE_KEY = "admin-dashboard:v1:{days}"


class Percentile(Aggregate):
    """PostgreSQL's ``percentile_cont(p) WITHIN GROUP (ORDER BY x)``."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


@dataclass
class Dashboard:
    days: list[date]
    requests_per_day: dict[str, list[int]]
    latency: list[dict[str, Any]]
    usage: list[dict[str, Any]]
    storage: dict[str, int] | None
    disk: dict[str, Any] | None
    breakers: list[dict[str, str]]
    generated_at: str
    problems: list[str] = field(default_factory=list)
    backup: dict[str, Any] | None = None


def collect(days: int) -> Dashboard:
    """Measure everything the dashboard shows (uncached)."""
    today = timezone.localdate()
    since_day = today - timedelta(days=days - 1)
    since = timezone.make_aware(timezone.datetime.combine(since_day, timezone.datetime.min.time()))
    problems: list[str] = []
    return Dashboard(
        days=[since_day + timedelta(days=i) for i in range(days)],
        requests_per_day=_requests_per_day(since, since_day, days),
        latency=_latency(since),
        usage=_usage(since),
        storage=_guarded(problems, "storage per category", _storage),
        disk=_guarded(problems, "disk", _disk),
        breakers=_breakers(),
        generated_at=timezone.now().isoformat(timespec="seconds"),
        problems=problems,
        backup=_guarded(problems, "backups", _backup),
    )


def cached_dashboard(days: int) -> Dashboard:
    seconds = settings.ADMIN_DASHBOARD_CACHE_SECONDS
    key = CACHE_KEY.format(days=days)
    if seconds:
        try:
            found = cache.get(key)
        except Exception:  # Redis down: measure directly
            found = None
        if found is not None:
            return found
    data = collect(days)
    if seconds:
        try:
            cache.set(key, data, seconds)
        except Exception:
            logger.warning("could not cache the dashboard", exc_info=True)
    return data


# ------------------------------------------------------------------- parts
def _requests_per_day(since, since_day: date, days: int) -> dict[str, list[int]]:
    rows = (
        AnalysisRequest.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    series = {status: [0] * days for status in AnalysisStatus.values}
    for row in rows:
        index = (row["day"] - since_day).days
        if 0 <= index < days and row["status"] in series:
            series[row["status"]][index] = row["n"]
    return series


def _latency(since) -> list[dict[str, Any]]:
    rows = (
        AnalysisRequest.objects.filter(
            created_at__gte=since, status=AnalysisStatus.COMPLETED, latency_ms__isnull=False
        )
        .values("provider")
        .annotate(
            requests=Count("id"),
            p50=Percentile("latency_ms", 0.5),
            p95=Percentile("latency_ms", 0.95),
        )
        .order_by("provider")
    )
    return [
        {
            "provider": row["provider"] or "(none)",
            "requests": row["requests"],
            "p50_ms": round(row["p50"] or 0),
            "p95_ms": round(row["p95"] or 0),
        }
        for row in rows
    ]


def _usage(since) -> list[dict[str, Any]]:
    rows = (
        AnalysisResult.objects.filter(created_at__gte=since)
        .values("provider", "model_used")
        .annotate(
            results=Count("id"),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            cost_usd=Sum("cost_usd"),
        )
        .order_by("provider", "model_used")
    )
    return [
        {
            "provider": row["provider"] or "(none)",
            "model": row["model_used"],
            "results": row["results"],
            "input_tokens": row["input_tokens"] or 0,
            "output_tokens": row["output_tokens"] or 0,
            "cost_usd": row["cost_usd"] or Decimal("0"),
        }
        for row in rows
    ]


def _storage() -> dict[str, int]:
    return category_bytes()


def _disk() -> dict[str, Any]:
    usage = measure_disk()
    return {
        "used_percent": round(usage.used_percent, 1),
        "used_bytes": usage.used_bytes,
        "free_bytes": usage.free_bytes,
        "total_bytes": usage.total_bytes,
        "level": level_for(usage.used_percent).value,
    }


def _backup() -> dict[str, Any]:
    """The newest good backup's age (storage_app/backup/status.py)."""
    status = backup_status()
    return {**status.as_dict(), "age": describe_age(status.age_seconds)}


def _breakers() -> list[dict[str, str]]:
    """Every known provider's breaker; with Redis unreachable a state is "unknown"."""
    try:
        configured = set(available_providers())
    except Exception:
        configured = set()
    states = []
    for name in PROVIDER_NAMES:
        try:
            state = breaker_state(name)
        except Exception:
            state = "unknown"
        states.append({"provider": name, "state": state, "configured": name in configured})
    return states


def _guarded(problems: list[str], what: str, measure):
    try:
        return measure()
    except Exception as exc:
        logger.warning("dashboard: %s unavailable", what, exc_info=True)
        problems.append(f"{what}: {type(exc).__name__}: {exc}")
        return None


# -------------------------------------------------------------------- view
def human_bytes(size: float) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def dashboard_view(request: HttpRequest) -> HttpResponse:
    """Staff only (wrapped in ``admin.site.admin_view`` by the URLconf), and only
    for staff allowed to view analysis requests."""
    if not request.user.has_perm("analysis.view_analysisrequest"):
        raise PermissionDenied
    days = settings.ADMIN_DASHBOARD_DAYS
    data = cached_dashboard(days)
    labels = [day.strftime("%m-%d") for day in data.days]
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "data": data,
        "window_days": days,
        "requests_chart": charts.stacked_bars(
            labels,
            data.requests_per_day,
            charts.STATUS_COLOURS,
            title=f"Requests per day by status, last {days} days",
        ),
        "latency_chart": charts.grouped_bars(
            [row["provider"] for row in data.latency],
            {
                "p50": [row["p50_ms"] for row in data.latency],
                "p95": [row["p95_ms"] for row in data.latency],
            },
            title="Latency per provider (ms)",
            unit=" ms",
        )
        if data.latency
        else None,
        "storage_chart": charts.horizontal_bars(
            list(data.storage),
            list(data.storage.values()),
            title="Storage used per category",
            formatter=human_bytes,
        )
        if data.storage is not None
        else None,
        "disk_gauge": charts.gauge(
            data.disk["used_percent"],
            warning=settings.STORAGE_DISK_WARNING_PERCENT,
            critical=settings.STORAGE_DISK_CRITICAL_PERCENT,
            title="Storage disk used",
        )
        if data.disk
        else None,
        "disk_used": human_bytes(data.disk["used_bytes"]) if data.disk else None,
        "disk_total": human_bytes(data.disk["total_bytes"]) if data.disk else None,
        "totals": {
            "requests": sum(sum(values) for values in data.requests_per_day.values()),
            "cost_usd": sum((row["cost_usd"] for row in data.usage), Decimal("0")),
            "tokens": sum(row["input_tokens"] + row["output_tokens"] for row in data.usage),
        },
    }
    return TemplateResponse(request, "admin/dashboard.html", context)
