"""``manage.py cleanup_storage [--dry-run] [--category ...]``: the same run as the
daily beat task. Exits with status 75 (try again later) when another run holds
the storage lock (a PostgreSQL advisory lock)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from storage_app.cleanup import run_cleanup
from storage_app.layout import Category
from storage_app.locking import StorageBusyError
from storage_app.tasks import SYSTEM_ACTOR

EXIT_BUSY = 75  # EX_TEMPFAIL


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # not reached


class Command(BaseCommand):
    help = "Delete expired stored files, mark their rows, sweep temp/ and empty folders."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would go; change nothing."
        )
        parser.add_argument(
            "--category",
            action="append",
            choices=[c.value for c in Category],
            help="Limit to this category (repeatable). Default: all.",
        )
        parser.add_argument("--batch-size", type=int, default=None, help="Rows per batch.")

    def handle(self, *args, **options) -> None:
        try:
            report = run_cleanup(
                actor=SYSTEM_ACTOR,
                categories=options["category"],
                dry_run=options["dry_run"],
                batch_size=options["batch_size"],
            )
        except StorageBusyError as exc:
            raise CommandError(str(exc), returncode=EXIT_BUSY) from exc
        prefix = "[dry run] would have " if report.dry_run else ""
        for name, counts in sorted(report.categories.items()):
            self.stdout.write(
                f"{name}: {prefix}deleted {counts.files_deleted} files "
                f"+ {counts.orphans_deleted} orphans + {counts.partials_deleted} partials, "
                f"freed {human_bytes(counts.bytes_freed)}, marked {counts.rows_marked} rows, "
                f"{counts.files_missing} already missing, removed {counts.folders_removed} "
                f"folders, {counts.errors} errors"
            )
        total = report.total
        self.stdout.write(
            f"total: {prefix}deleted {total.files_deleted + total.orphans_deleted + total.partials_deleted} "
            f"files, freed {human_bytes(total.bytes_freed)} ({total.bytes_freed} bytes), "
            f"marked {total.rows_marked} rows, {total.errors} errors; "
            f"disk now {report.disk_used_percent}% used"
        )
