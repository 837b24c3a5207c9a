"""Shadows django-auditlog's ``auditlogflush`` ("audit" precedes "auditlog" in
INSTALLED_APPS): audit entries leave only by age, through ``prune_audit_log``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Disabled: use `manage.py prune_audit_log --older-than DAYS`."

    def add_arguments(self, parser) -> None:
        parser.add_argument("args", nargs="*")
        parser.add_argument("-y", "--yes", action="store_true")
        parser.add_argument("-b", "--before-date")
        parser.add_argument("-t", "--truncate", action="store_true")

    def handle(self, *args, **options) -> None:
        raise CommandError(
            "auditlogflush is disabled here: audit entries are removed only by age, "
            "with `manage.py prune_audit_log --older-than DAYS`."
        )
