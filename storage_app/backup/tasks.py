"""The nightly backup, run by Celery beat when ``BACKUP_DIR`` is set."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from storage_app.backup.create import create_backup
from storage_app.backup.record import BACKUP_ACTOR
from storage_app.backup.sets import BackupBusyError
from storage_app.locking import StorageBusyError

logger = logging.getLogger(__name__)


# Acknowledged on receipt, unlike the analyses: a backup running past the broker's
# visibility timeout must not be delivered a second time; a lost one is simply
# retried the next night (and readiness says "stale" if that keeps happening).
@shared_task(
    name="storage_app.backup.nightly",
    audit_actor=BACKUP_ACTOR,
    acks_late=False,
    soft_time_limit=settings.BACKUP_TIME_LIMIT,
    time_limit=settings.BACKUP_TIME_LIMIT + 300,
)
def nightly_backup() -> dict:
    if not settings.BACKUP_DIR:
        return {"skipped": "BACKUP_DIR is not set"}
    try:
        result = create_backup()
    except (BackupBusyError, StorageBusyError) as exc:
        logger.warning("nightly backup skipped", extra={"reason": str(exc)})
        return {"skipped": str(exc)}
    except Exception:
        # Already recorded as a failed run (metrics, dashboard); the log says why.
        logger.exception("nightly backup failed")
        raise
    manifest = result.manifest
    summary = {
        "set": str(result.path),
        "files": manifest.storage.file_count,
        "linked": manifest.storage.linked_count,
        "new_bytes": result.new_bytes,
        "duration_seconds": manifest.duration_seconds,
        "pruned": result.pruned,
    }
    logger.info("nightly backup finished", extra=summary)
    return summary
