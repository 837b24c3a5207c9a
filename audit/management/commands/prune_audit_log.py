"""``manage.py prune_audit_log --older-than DAYS``: delete audit entries by age."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.retention import prune_entries


class Command(BaseCommand):
    help = (
        "Delete audit log entries older than DAYS days (default: AUDIT_RETENTION_DAYS). "
        "The only way audit entries are ever removed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=int, metavar="DAYS", dest="older_than")
        parser.add_argument("--batch-size", type=int, default=None)

    def handle(self, *args, **options) -> None:
        days = options["older_than"]
        if days is None:
            days = settings.AUDIT_RETENTION_DAYS
            if not days:
                raise CommandError(
                    "AUDIT_RETENTION_DAYS is 0 (keep forever): pass --older-than DAYS."
                )
        if days < 1:
            raise CommandError("--older-than must be at least 1 day.")
        batch_size = options["batch_size"] or settings.AUDIT_PRUNE_BATCH_SIZE
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        deleted = prune_entries(older_than_days=days, batch_size=batch_size)
        self.stdout.write(f"deleted {deleted} audit log entries older than {days} days")
