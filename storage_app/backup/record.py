"""Each backup, verification and restore as a ``backup_runs`` row.

Why a table rather than reading the sets on disk: the web process (metrics,
dashboard, readiness) need not mount the backup folder, a failure is counted even
when it left no set behind, and the rows are registered with auditlog, so every
run is in the audit log under a named system actor (``system:backup``,
``system:verify-backup``, ``system:restore``) with its outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from auditlog.registry import auditlog
from django.db import models
from django.utils import timezone

from media_analysis.context import acting_as
from media_analysis.db_fields import uuid_primary_key

logger = logging.getLogger(__name__)

BACKUP_ACTOR = "system:backup"
VERIFY_ACTOR = "system:verify-backup"
RESTORE_ACTOR = "system:restore"


class RunKind(models.TextChoices):
    BACKUP = "backup"
    VERIFY = "verify"
    RESTORE = "restore"


class RunStatus(models.TextChoices):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


ACTORS = {
    RunKind.BACKUP: BACKUP_ACTOR,
    RunKind.VERIFY: VERIFY_ACTOR,
    RunKind.RESTORE: RESTORE_ACTOR,
}


class BackupRun(models.Model):
    id = uuid_primary_key()
    kind = models.CharField(max_length=10, choices=RunKind.choices)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    set_name = models.CharField(max_length=200, blank=True, default="")
    location = models.TextField(blank=True, default="", help_text="The set's folder.")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    file_count = models.BigIntegerField(null=True, blank=True)
    total_bytes = models.BigIntegerField(
        null=True, blank=True, help_text="Stored files plus the dump, as a restore reads them."
    )
    new_bytes = models.BigIntegerField(
        null=True, blank=True, help_text="Disk the set took: what was not hard-linked."
    )
    error = models.TextField(blank=True, default="")
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        app_label = "storage_app"
        db_table = "backup_runs"
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["kind", "status", "-finished_at"], name="idx_backup_runs_latest")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.set_name or self.location} {self.status}"


auditlog.register(BackupRun)


@contextmanager
def recorded(kind: RunKind, **fields: Any) -> Iterator[BackupRun]:
    """A ``running`` row for the block, finished as ``succeeded`` or, if the block
    raises, ``failed`` with the error. The block may set fields on the row (sizes,
    details); they are saved when it ends. Audited as the kind's system actor."""
    run = start(kind, **fields)
    try:
        yield run
    except BaseException as exc:
        try:
            finish(run, RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:4000])
        except Exception:  # the database may be what failed: keep the first error
            logger.exception("could not record the failed run", extra={"run": str(run.pk)})
        raise
    finish(run, RunStatus.SUCCEEDED)


def start(kind: RunKind, **fields: Any) -> BackupRun:
    with acting_as(ACTORS[kind]):
        return BackupRun.objects.create(kind=kind, **fields)


def finish(
    run: BackupRun, status: RunStatus, *, error: str = "", at: datetime | None = None
) -> None:
    run.status = status
    run.finished_at = at or timezone.now()
    run.duration_seconds = round((run.finished_at - run.started_at).total_seconds(), 3)
    if error:
        run.error = error
    with acting_as(ACTORS[RunKind(run.kind)]):
        run.save()


def mark_interrupted(location_prefix: str, *, keep: BackupRun) -> int:
    """Backups under ``location_prefix`` still ``running`` although their folder's
    lock is ours: their process died (SIGKILL, OOM, a lost host). Failed now, so
    the failure count sees them."""
    stale = BackupRun.objects.filter(
        kind=RunKind.BACKUP, status=RunStatus.RUNNING, location__startswith=location_prefix
    ).exclude(pk=keep.pk)
    count = 0
    for run in stale:
        finish(
            run,
            RunStatus.FAILED,
            error="interrupted: the process ended before the set was complete",
        )
        count += 1
    return count
