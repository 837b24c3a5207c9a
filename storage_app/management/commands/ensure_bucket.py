"""``manage.py ensure_bucket [--wait SECONDS]``: create the configured bucket when
it is missing (``storage_app.bucket``); compose's ``migrate`` runs it on the
object store.

Exit status: 0 when the bucket exists (found or created), 1 when the store did
not answer within the wait, 2 when the backend is not s3 or the store refuses
the bucket (credentials, another account's name)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from storage_app.bucket import BucketRefused, StoreUnreachable, ensure_bucket

EXIT_REFUSED = 2


class Command(BaseCommand):
    help = "Create the object store's bucket when it is missing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--wait",
            type=float,
            default=0,
            help="Seconds to keep asking a store that does not answer yet (default 0).",
        )

    def handle(self, *args, **options) -> None:
        if options["wait"] < 0:
            raise CommandError("--wait must be 0 or more", returncode=EXIT_REFUSED)
        try:
            state = ensure_bucket(wait=options["wait"])
        except BucketRefused as exc:
            raise CommandError(str(exc), returncode=EXIT_REFUSED) from exc
        except StoreUnreachable as exc:
            raise CommandError(str(exc), returncode=1) from exc
        verb = "created" if state.created else "exists"
        self.stdout.write(f"bucket {state.bucket} {verb}")
