"""``manage.py restore DIR [--force]``: a verified set back into an empty service."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from storage_app.backup.files import RestoreFileError
from storage_app.backup.pgtools import ToolError
from storage_app.backup.restore import RestoreDatabaseError, RestoreRefused, restore_set
from storage_app.locking import StorageBusyError

EXIT_MISMATCH = 1
EXIT_REFUSED = 2


class Command(BaseCommand):
    help = (
        "Restore a backup set: verify it, refuse a non-empty database or storage root "
        "(unless --force), restore the database then the files, and check row counts "
        "and every live file's checksum. Stop web, worker and beat first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("set_dir", type=Path, metavar="DIR", help="The backup set's folder.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replace a database that holds requests and restore over a non-empty "
            "storage root.",
        )

    def handle(self, *args, **options) -> None:
        set_dir: Path = options["set_dir"].absolute()
        try:
            report = restore_set(set_dir, force=options["force"], say=self.stdout.write)
        except RestoreRefused as exc:
            lines = "\n".join(f"  - {reason}" for reason in exc.reasons)
            raise CommandError(
                f"restore refused, nothing was changed:\n{lines}", returncode=EXIT_REFUSED
            ) from exc
        except ToolError as exc:
            raise CommandError(
                f"restore refused, nothing was changed: {exc}", returncode=EXIT_REFUSED
            ) from exc
        except RestoreDatabaseError as exc:
            raise CommandError(str(exc), returncode=EXIT_MISMATCH) from exc
        except (RestoreFileError, StorageBusyError, OSError) as exc:
            raise CommandError(
                f"the database was restored but the files were not: {exc}", returncode=EXIT_MISMATCH
            ) from exc
        manifest = report.manifest
        self.stdout.write(
            f"restored set {manifest.name} (made {manifest.completed_at}): "
            f"{sum(manifest.database.tables.values())} rows in {len(manifest.database.tables)} "
            f"tables, {report.files.count} files ({report.files.bytes} bytes) "
            f"in {report.duration_seconds:.1f} s"
        )
        if not report.ok:
            problems = report.count_mismatches + report.file_problems
            more = report.file_problem_count - len(report.file_problems)
            text = "\n".join(f"  - {p}" for p in problems) + (
                f"\n  ... and {more} more" if more else ""
            )
            raise CommandError(
                f"the restored data does not match the set:\n{text}", returncode=EXIT_MISMATCH
            )
        self.stdout.write(
            f"checked: row counts of every table match the manifest; {report.live_rows_checked} "
            "live file rows have their file with the recorded checksum"
        )
        self.stdout.write(
            "next: run `manage.py migrate` if this release is newer than the set, then start "
            "web, worker and beat"
        )
