"""Fill the history's full-text search documents (``analysis/search_document.py``)
of requests that have none: those written before migration 0011, or by another
service's plain SQL. ``--all`` rebuilds every one (after HISTORY_SEARCH_LANGUAGE
changed). Batches of their own transactions: safe while the service runs, and an
interrupted run resumes with the rows still missing."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from analysis import cache, search_document


class Command(BaseCommand):
    help = __doc__.split("\n\n")[0]

    def add_arguments(self, parser) -> None:
        parser.add_argument("--all", action="store_true", help="rebuild every document")
        parser.add_argument("--batch-size", type=int, default=5000, help="rows per transaction")

    def handle(self, *args, **options) -> None:
        size = max(1, options["batch_size"])
        written = 0
        for rows in search_document.index_batches(batch_size=size, everything=options["all"]):
            written += rows
            if options["verbosity"] > 1:
                self.stdout.write(f"{written:,} documents written")
        if written:
            cache.forget_answers()  # cached history pages did not know these words
        self.stdout.write(f"{written:,} documents written ({search_document.language()})")
