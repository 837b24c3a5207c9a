"""How the backups are doing, from ``backup_runs``: for /metrics, the staff
dashboard and readiness.

Backups run nightly, so the newest good set is "stale" once it is older than two
intervals (48 h): one missed night is a warning sign, two are a problem.
Readiness reports it but never takes the instance out of service for it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from media_analysis.resilience import call_database
from storage_app.backup.record import BackupRun, RunKind, RunStatus

logger = logging.getLogger(__name__)

INTERVAL = timedelta(days=1)
STALE_AFTER = 2 * INTERVAL
SCRAPE_CACHE_SECONDS = 30
READINESS_CACHE_SECONDS = 60

_lock = threading.Lock()
_cache: dict[str, Any] = {"at": 0.0, "value": None}
_ready_cache: dict[str, Any] = {"at": 0.0, "value": None}


@dataclass(frozen=True)
class BackupStatus:
    scheduled: bool  # BACKUP_DIR set: beat runs one nightly
    last_set: str | None
    last_success_at: datetime | None
    last_duration_seconds: float | None
    last_new_bytes: int | None  # disk the newest good set took
    last_total_bytes: int | None  # what it holds (a restore reads this much)
    failures: int
    last_failure_at: datetime | None
    age_seconds: float | None

    @property
    def stale(self) -> bool:
        return self.age_seconds is None or self.age_seconds > STALE_AFTER.total_seconds()

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("last_success_at", "last_failure_at"):
            data[name] = data[name].isoformat() if data[name] else None
        data["stale"] = self.stale
        return data


def backup_status(now: datetime | None = None) -> BackupStatus:
    now = now or timezone.now()
    backups = BackupRun.objects.filter(kind=RunKind.BACKUP)
    good = backups.filter(status=RunStatus.SUCCEEDED).order_by("-finished_at").first()
    failed = backups.filter(status=RunStatus.FAILED)
    last_failure = failed.order_by("-finished_at").values_list("finished_at", flat=True).first()
    return BackupStatus(
        scheduled=bool(settings.BACKUP_DIR),
        last_set=good.set_name if good else None,
        last_success_at=good.finished_at if good else None,
        last_duration_seconds=good.duration_seconds if good else None,
        last_new_bytes=good.new_bytes if good else None,
        last_total_bytes=good.total_bytes if good else None,
        failures=failed.count(),
        last_failure_at=last_failure,
        age_seconds=(now - good.finished_at).total_seconds() if good and good.finished_at else None,
    )


def readiness_check() -> dict[str, Any]:
    """The ``backup`` component of /health/ready: "ok" or "stale" (never "error":
    an old backup does not stop the service from serving). One query per
    ``READINESS_CACHE_SECONDS`` in this process: staleness moves in hours."""
    with _lock:
        if time.monotonic() - _ready_cache["at"] < READINESS_CACHE_SECONDS:
            return _ready_cache["value"]
    value = _readiness(backup_status())
    with _lock:
        _ready_cache.update(at=time.monotonic(), value=value)
    return value


def _readiness(status: BackupStatus) -> dict[str, Any]:
    if not status.scheduled and status.last_success_at is None:
        return {"status": "ok", "detail": "not scheduled (BACKUP_DIR is not set)"}
    if status.last_success_at is None:
        return {"status": "stale", "detail": "no backup has succeeded yet"}
    age_hours = round(status.age_seconds / 3600, 1)
    answer = {"last_set": status.last_set, "age_hours": age_hours}
    if status.stale:
        limit = STALE_AFTER.total_seconds() / 3600
        return {
            "status": "stale",
            "detail": f"newest good set is {age_hours} h old (> {limit:.0f} h)",
            **answer,
        }
    return {"status": "ok", **answer}


# --------------------------------------------------------------------- display
def describe_age(seconds: float | None) -> str:
    """``"5 h 12 min"`` for the dashboard."""
    if seconds is None:
        return "never"
    minutes = int(seconds // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


# --------------------------------------------------------------------- metrics
def _cached_status() -> BackupStatus | None:
    with _lock:
        if time.monotonic() - _cache["at"] < SCRAPE_CACHE_SECONDS:
            return _cache["value"]
        try:
            value = call_database(backup_status)
        except Exception:
            logger.warning("metrics: backup status unavailable")
            value = None
        _cache.update(at=time.monotonic(), value=value)
        return value


def clear_caches() -> None:
    _cache.update(at=0.0, value=None)
    _ready_cache.update(at=0.0, value=None)


def metric_families():
    """The backup families for /metrics (``analysis.api.metrics``)."""
    status = _cached_status()
    if status is None:
        return
    failures = CounterMetricFamily(
        "media_analysis_backup_failures", "Backups that failed or were interrupted."
    )
    failures.add_metric([], status.failures)
    yield failures
    stale = GaugeMetricFamily(
        "media_analysis_backup_stale", "1 when the newest good backup is older than 48 h."
    )
    stale.add_metric([], 1 if status.stale else 0)
    yield stale
    if status.last_success_at is None:
        return
    for name, help_text, value in (
        ("last_success_timestamp_seconds", "When the newest good backup finished (Unix time).",
         status.last_success_at.timestamp()),
        ("last_success_age_seconds", "Age of the newest good backup.", status.age_seconds),
        ("last_duration_seconds", "How long the newest good backup took.",
         status.last_duration_seconds),
        ("last_size_bytes", "Disk the newest good backup set took (hard links not counted).",
         status.last_new_bytes),
        ("last_total_bytes", "Bytes the newest good backup set holds (dump and files).",
         status.last_total_bytes),
    ):  # fmt: skip
        family = GaugeMetricFamily(f"media_analysis_backup_{name}", help_text)
        family.add_metric([], float(value or 0))
        yield family
