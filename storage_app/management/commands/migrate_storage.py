"""``manage.py migrate_storage --to s3 [--dry-run] [--delete-local] [--read-back]``:
copy the filesystem store under ``STORAGE_ROOT`` into the configured bucket,
verify it and switch the rows over (``storage_app.migrate``). Resumable: run it
again after any interruption.

Exit status: 0 when every live row is in the bucket, 1 when some row could not
be moved (each is listed), 2 when the target is not configured or not reachable
(nothing done), 75 when another storage run holds the lock."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from storage_app.locking import StorageBusyError
from storage_app.management.commands.cleanup_storage import EXIT_BUSY, human_bytes
from storage_app.migrate import DEFAULT_BATCH_SIZE, MigrationRefused, migrate_to_object_store

EXIT_REFUSED = 2


class Command(BaseCommand):
    help = "Copy the filesystem store into the object store, verify it, switch rows over."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--to", required=True, choices=["s3"], help="The target store.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be copied; change nothing."
        )
        parser.add_argument(
            "--delete-local",
            action="store_true",
            help="Remove each local file once its row points at the verified object.",
        )
        parser.add_argument(
            "--read-back",
            action="store_true",
            help="Hash every object again as read back from the bucket (twice the traffic).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Rows switched per transaction (default {DEFAULT_BATCH_SIZE}).",
        )

    def handle(self, *args, **options) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1", returncode=EXIT_REFUSED)
        try:
            report = migrate_to_object_store(
                dry_run=options["dry_run"],
                delete_local=options["delete_local"],
                read_back=options["read_back"],
                batch_size=options["batch_size"],
                say=self.stdout.write,
            )
        except MigrationRefused as exc:
            raise CommandError(f"migrate_storage refused: {exc}", returncode=EXIT_REFUSED) from exc
        except StorageBusyError as exc:
            raise CommandError(str(exc), returncode=EXIT_BUSY) from exc
        for problem in report.problems:
            self.stdout.write(f"PROBLEM: {problem}")
        verb = "would copy" if report.dry_run else "copied and switched"
        self.stdout.write(
            f"{'[dry run] ' if report.dry_run else ''}{report.rows_seen} live rows: "
            f"{report.already_on_target} already in the bucket, {verb} {report.copied} "
            f"({human_bytes(report.bytes_copied)}, {report.bytes_copied} bytes); "
            f"{report.missing} missing on disk, {report.mismatched} size/checksum mismatches, "
            f"{report.unsafe} unsafe rows, {report.failed} failed; "
            f"{report.local_deleted} local files deleted"
        )
        if report.problem_count:
            raise CommandError(
                f"{report.problem_count} row(s) were not moved (listed above); they stay "
                "on the filesystem: fix them and run again",
                returncode=1,
            )
