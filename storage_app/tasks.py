"""Celery beat entry points for storage housekeeping: thin wrappers around the same
functions the management commands call (``run_cleanup``, ``run_sanity_check``)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from storage_app.cleanup import run_cleanup
from storage_app.locking import StorageBusyError
from storage_app.sanity import run_sanity_check

logger = logging.getLogger(__name__)

# Who did it, for logs, contact-sheet deletion marks and the audit trail.
SYSTEM_ACTOR = "system:cleanup"


@shared_task(name="storage_app.tasks.cleanup_storage", audit_actor=SYSTEM_ACTOR)
def cleanup_storage() -> dict:
    """Daily retention cleanup. A run finding the lock held skips, it does not wait."""
    try:
        return run_cleanup(actor=SYSTEM_ACTOR).as_dict()
    except StorageBusyError as exc:
        logger.warning("storage cleanup skipped", extra={"reason": str(exc)})
        return {"skipped": str(exc)}


@shared_task(name="storage_app.tasks.check_storage", audit_actor=SYSTEM_ACTOR)
def check_storage() -> dict:
    """Weekly comparison of the disk and the index."""
    try:
        report = run_sanity_check(verify_checksums=settings.STORAGE_CHECK_VERIFY_CHECKSUMS)
    except StorageBusyError as exc:
        logger.warning("storage sanity check skipped", extra={"reason": str(exc)})
        return {"skipped": str(exc)}
    return report.as_dict()


# The nightly backup's task, registered with the rest of storage's.
from storage_app.backup.tasks import nightly_backup  # noqa: E402, F401
