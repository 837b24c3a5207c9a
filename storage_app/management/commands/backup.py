"""``manage.py backup [--output DIR]``: one backup set (see docs/backup.md)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from storage_app.backup.create import create_backup
from storage_app.backup.dump import DumpError
from storage_app.backup.pgtools import ToolError
from storage_app.backup.sets import BackupBusyError
from storage_app.locking import StorageBusyError

EXIT_BUSY = 75  # EX_TEMPFAIL: try again later


class Command(BaseCommand):
    help = (
        "Write a backup set (the project's tables, every stored file but temp/, a manifest) "
        "to --output DIR or to a new folder in BACKUP_DIR."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            type=Path,
            help="The set's folder (must not exist). Default: BACKUP_DIR/<UTC timestamp>, "
            "and sets beyond BACKUP_KEEP are pruned.",
        )

    def handle(self, *args, **options) -> None:
        output: Path | None = options["output"]
        if output is None and not settings.BACKUP_DIR:
            raise CommandError("give --output DIR or set BACKUP_DIR", returncode=2)
        try:
            result = create_backup(output=output, say=self.stdout.write)
        except (BackupBusyError, StorageBusyError) as exc:
            raise CommandError(str(exc), returncode=EXIT_BUSY) from exc
        except (ToolError, DumpError, FileExistsError, OSError) as exc:
            raise CommandError(f"backup failed, no set was written: {exc}") from exc
        manifest = result.manifest
        storage = manifest.storage
        self.stdout.write(
            f"backup set {result.path}: {sum(manifest.database.tables.values())} rows in "
            f"{len(manifest.database.tables)} tables, {storage.file_count} files "
            f"({storage.total_bytes} bytes, {storage.linked_count} hard-linked), "
            f"{result.new_bytes} bytes of new disk, {manifest.duration_seconds:.1f} s"
        )
        if not manifest.consistency.ok:
            self.stderr.write(
                f"warning: {manifest.consistency.missing} live rows had no file and "
                f"{manifest.consistency.mismatched} another checksum when the set was made "
                "(run check_storage); a restore of this set will report them"
            )
        if result.pruned:
            self.stdout.write(f"pruned: {', '.join(result.pruned)}")
