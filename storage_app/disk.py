"""Free space of the storage root: thresholds, refusal with HTTP 507, gauges.

At ``STORAGE_DISK_WARNING_PERCENT`` used (80 % by default) a warning is logged and
readiness says "warning"; at ``STORAGE_DISK_CRITICAL_PERCENT`` (90 %) new uploads
and downloads are refused with ``InsufficientStorageError`` (HTTP 507) until space
is freed, and readiness says "error".

On the object store (``STORAGE_BACKEND=s3``) a bucket has no "full": the disk
measured is the local one under ``STORAGE_ROOT``, where only ``temp/`` lives
(uploads and downloads pass through it, tools read local copies there), and the
same thresholds guard it; it is created when missing, as scratch space may be.
Per-category bytes come from the index rows either way (no bucket listing per
scrape).

"Used" is counted as ``df`` counts it: used / (used + available to us), so blocks
reserved for root count as unavailable, which is what an unprivileged writer sees.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.http import JsonResponse
from prometheus_client import Gauge

from media_analysis.errors import ServiceError
from media_analysis.object_store_settings import BACKEND_S3
from storage_app.layout import DATED_CATEGORIES, Category, make_root, storage_root
from storage_app.models import ContactSheet, MediaFile

logger = logging.getLogger(__name__)

_NAMESPACE = "media_analysis"
# "mostrecent" so several gunicorn workers (PROMETHEUS_MULTIPROC_DIR) report one value.
DISK_USED_BYTES = Gauge(
    "storage_disk_used_bytes",
    "Bytes used on the filesystem of the storage root (on S3: the local temp disk).",
    namespace=_NAMESPACE,
    multiprocess_mode="mostrecent",
)
DISK_FREE_BYTES = Gauge(
    "storage_disk_free_bytes",
    "Bytes available to the service on the storage root's filesystem (on S3: local temp).",
    namespace=_NAMESPACE,
    multiprocess_mode="mostrecent",
)
DISK_USED_PERCENT = Gauge(
    "storage_disk_used_percent",
    "Percent used of the storage root's filesystem, as df counts it (on S3: local temp).",
    namespace=_NAMESPACE,
    multiprocess_mode="mostrecent",
)
CATEGORY_BYTES = Gauge(
    "storage_category_bytes",
    "Bytes of live (not deleted) indexed files per storage category.",
    ["category"],
    namespace=_NAMESPACE,
    multiprocess_mode="mostrecent",
)


class DiskLevel(StrEnum):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class DiskUsage:
    total_bytes: int
    used_bytes: int
    free_bytes: int

    @property
    def used_percent(self) -> float:
        usable = self.used_bytes + self.free_bytes
        return 100.0 * self.used_bytes / usable if usable else 100.0

    def used_percent_after(self, extra_bytes: int) -> float:
        usable = self.used_bytes + self.free_bytes
        return 100.0 * (self.used_bytes + extra_bytes) / usable if usable else 100.0


class InsufficientStorageError(ServiceError):
    """Storage is (nearly) full: new uploads and downloads are refused (507)."""

    http_status = 507

    def __init__(self, message: str, *, used_percent: float | None = None):
        super().__init__("insufficient_storage", message)
        self.used_percent = used_percent

    def as_response(self) -> JsonResponse:
        """The answer outside DRF (the upload handler refuses before a view runs)."""
        return JsonResponse({"error": self.as_dict()}, status=self.http_status)


def measure_disk() -> DiskUsage:
    """Measure the filesystem of the storage root and refresh the disk gauges.
    A missing root raises (``FileNotFoundError``): readiness reports it as an error
    rather than silently creating a folder where a volume should be mounted. On the
    object store the root is only local scratch (``temp/``), made when missing."""
    if local_disk_is_scratch():
        make_root()
    usage = shutil.disk_usage(storage_root())
    measured = DiskUsage(total_bytes=usage.total, used_bytes=usage.used, free_bytes=usage.free)
    DISK_USED_BYTES.set(measured.used_bytes)
    DISK_FREE_BYTES.set(measured.free_bytes)
    DISK_USED_PERCENT.set(round(measured.used_percent, 2))
    return measured


def local_disk_is_scratch() -> bool:
    """True when stored media is in the object store: the local disk holds temp/ only."""
    return settings.STORAGE_BACKEND == BACKEND_S3


def disk_scope() -> str:
    return "local temp disk" if local_disk_is_scratch() else "storage root"


def level_for(used_percent: float) -> DiskLevel:
    if used_percent >= settings.STORAGE_DISK_CRITICAL_PERCENT:
        return DiskLevel.CRITICAL
    if used_percent >= settings.STORAGE_DISK_WARNING_PERCENT:
        return DiskLevel.WARNING
    return DiskLevel.OK


def ensure_space_for_write(expected_bytes: int = 0) -> DiskUsage:
    """Refuse (``InsufficientStorageError``, HTTP 507) when the storage disk is at or
    above the critical threshold, or would be after writing ``expected_bytes``.

    Call it before accepting an upload or starting a download; the writer calls it
    too for the uploads category. On the object store it guards the local temp disk
    those pass through (the bucket itself is never "full").
    """
    make_root()
    usage = measure_disk()
    after = usage.used_percent_after(max(expected_bytes, 0))
    critical = settings.STORAGE_DISK_CRITICAL_PERCENT
    if after >= critical:
        logger.error(
            "storage disk critical: refusing a new write",
            extra={
                "storage_root": str(storage_root()),
                "used_percent": round(usage.used_percent, 1),
                "expected_bytes": expected_bytes,
                "critical_percent": critical,
            },
        )
        raise InsufficientStorageError(
            f"Storage is {usage.used_percent:.1f}% full (limit {critical}%): new uploads "
            "and downloads are refused until space is freed.",
            used_percent=round(usage.used_percent, 1),
        )
    if level_for(after) is DiskLevel.WARNING:
        logger.warning(
            "storage disk above the warning threshold",
            extra={"used_percent": round(usage.used_percent, 1)},
        )
    return usage


def readiness_check() -> dict:
    """The readiness component for the storage disk (``media_analysis.health``)."""
    usage = measure_disk()
    level = level_for(usage.used_percent)
    if level is not DiskLevel.OK:
        log = logger.error if level is DiskLevel.CRITICAL else logger.warning
        log("storage disk %s", level.value, extra={"used_percent": round(usage.used_percent, 1)})
    # A full disk refuses new files (507) but reads still work: the instance is
    # degraded, not offline. Only a root that cannot be measured is an error.
    return {
        "status": level.value,
        "level": level.value,
        "used_percent": round(usage.used_percent, 1),
        "free_bytes": usage.free_bytes,
        "total_bytes": usage.total_bytes,
        "backend": settings.STORAGE_BACKEND,
        "scope": disk_scope(),
    }


def category_bytes() -> dict[str, int]:
    """Bytes of live indexed files per dated category, summed by the database from
    the rows (whatever the backend: an object's row is its key and size).
    ``media_files`` in one query, plus live contact sheets; rows without a
    relative path are not counted."""
    from django.db.models import Q, Sum

    totals = MediaFile.objects.filter(deleted_at__isnull=True).aggregate(
        **{
            category.value: Sum(
                "size_bytes", filter=Q(relative_path__startswith=f"{category.value}/")
            )
            for category in DATED_CATEGORIES
        }
    )
    sheets = (
        ContactSheet.objects.filter(relative_path__startswith=f"{Category.CONTACT_SHEETS}/")
        .filter(Q(metadata__isnull=True) | ~Q(metadata__has_key="deleted_at"))
        .aggregate(total=Sum("file_size_bytes"))["total"]
    )
    totals[Category.CONTACT_SHEETS.value] = (totals[Category.CONTACT_SHEETS.value] or 0) + (
        sheets or 0
    )
    return {category: total or 0 for category, total in totals.items()}


def refresh_category_gauges() -> dict[str, int]:
    totals = category_bytes()
    for category, total in totals.items():
        CATEGORY_BYTES.labels(category=category).set(total)
    return totals


_last_category_refresh = 0.0


def refresh_category_gauges_if_due() -> None:
    """Per-category sums cost a query; scrapes refresh them at most every
    ``STORAGE_METRICS_CATEGORY_INTERVAL`` seconds per process."""
    global _last_category_refresh
    now = time.monotonic()
    if _last_category_refresh and now - _last_category_refresh < (
        settings.STORAGE_METRICS_CATEGORY_INTERVAL
    ):
        return
    _last_category_refresh = now
    try:
        refresh_category_gauges()
    except Exception:  # a metric must never fail readiness
        logger.exception("could not refresh per-category storage gauges")
