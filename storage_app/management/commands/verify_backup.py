"""``manage.py verify_backup DIR``: check a set against its manifest; reads only."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from storage_app.backup.record import RunKind, RunStatus, finish, start
from storage_app.backup.verify import verify_set


class Command(BaseCommand):
    help = (
        "Check every file of a backup set against its manifest and that the dump is "
        "readable. Changes nothing; exits 1 with a report on any problem."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("set_dir", type=Path, metavar="DIR", help="The backup set's folder.")

    def handle(self, *args, **options) -> None:
        set_dir: Path = options["set_dir"].absolute()
        try:
            run = start(RunKind.VERIFY, set_name=set_dir.name, location=str(set_dir))
        except DatabaseError as exc:
            # Verifying needs no database (e.g. on the backup host); only the record does.
            run = None
            self.stderr.write(f"note: not recorded in the audit log ({type(exc).__name__})")
        report = verify_set(set_dir)
        if run is not None:
            run.file_count = report.files_checked
            run.total_bytes = report.bytes_checked
            run.details = {"problems": report.problem_count, "listed": report.problems[:10]}
            status = RunStatus.SUCCEEDED if report.ok else RunStatus.FAILED
            finish(run, status, error="" if report.ok else f"{report.problem_count} problem(s)")
        if not report.ok:
            raise CommandError(report.summary(), returncode=1)
        self.stdout.write(report.summary())
