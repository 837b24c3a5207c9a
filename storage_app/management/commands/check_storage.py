"""``manage.py check_storage``: files on disk without a row, rows whose file is
missing, size and checksum mismatches, each with its full relative path.
Exits with status 1 when a problem is found, 75 when cleanup holds the lock."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser

from storage_app.layout import DATED_CATEGORIES
from storage_app.locking import StorageBusyError
from storage_app.management.commands.cleanup_storage import EXIT_BUSY
from storage_app.sanity import run_sanity_check

LABELS = {
    "orphan_files": "ORPHAN (file without a row)",
    "missing_files": "MISSING (row without its file)",
    "checksum_mismatches": "CHECKSUM MISMATCH",
    "size_mismatches": "SIZE MISMATCH",
    "unsafe_rows": "UNSAFE PATH (row outside the root)",
}


class Command(BaseCommand):
    help = "Compare the storage folder with the media_files and contact_sheets rows."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--category", action="append", choices=[c.value for c in DATED_CATEGORIES]
        )
        parser.add_argument(
            "--no-checksums", action="store_true", help="Compare sizes only (much faster)."
        )
        parser.add_argument(
            "--grace-minutes",
            type=int,
            default=None,
            help="Ignore row-less files younger than this (a write in flight).",
        )

    def handle(self, *args, **options) -> None:
        grace = options["grace_minutes"]
        try:
            report = run_sanity_check(
                categories=options["category"],
                verify_checksums=not options["no_checksums"],
                grace=timedelta(minutes=grace) if grace is not None else None,
            )
        except StorageBusyError as exc:
            raise CommandError(str(exc), returncode=EXIT_BUSY) from exc
        for kind, label in LABELS.items():
            problems = getattr(report, kind)
            for item in problems.items:
                details = ", ".join(
                    f"{key}={value}" for key, value in item.items() if key != "relative_path"
                )
                self.stdout.write(f"{label}: {item['relative_path']}  [{details}]")
            if problems.count > len(problems.items):
                self.stdout.write(f"{label}: ... {problems.count - len(problems.items)} more")
        self.stdout.write(
            f"checked {report.rows_checked} rows and {report.files_checked} files: "
            + ", ".join(f"{getattr(report, kind).count} {kind}" for kind in LABELS)
        )
        if report.problem_count:
            raise CommandError(f"{report.problem_count} storage problem(s) found", returncode=1)
