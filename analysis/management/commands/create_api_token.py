"""``manage.py create_api_token USERNAME [--staff] [--name N] [--expires-days D]``

Creates the user when missing and prints the new token, alone, on stdout (so
``TOKEN=$(python manage.py create_api_token alice)`` works). Only its SHA-256 is
stored: the token cannot be shown again. ``--revoke-all`` revokes the user's
existing tokens first (rotation).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from analysis.models_api import ApiToken


class Command(BaseCommand):
    help = "Create an API token for USERNAME (the user is created when missing)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--staff", action="store_true", help="Make the user staff (sees every request)."
        )
        parser.add_argument(
            "--name", default="", help="A label for the token (which client holds it)."
        )
        parser.add_argument(
            "--expires-days", type=int, default=None, help="Expire after this many days."
        )
        parser.add_argument(
            "--revoke-all", action="store_true", help="Revoke the user's other tokens."
        )

    def handle(self, *args, **options) -> None:
        username = options["username"].strip()
        if not username or len(username) > 150:
            raise CommandError("USERNAME must be 1 to 150 characters.")
        days = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days must be at least 1.")
        User = get_user_model()
        with transaction.atomic():
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_unusable_password()  # an API identity; set a password to use the admin
            if options["staff"] and not user.is_staff:
                user.is_staff = True
            if created or options["staff"]:
                user.save()
            if options["revoke_all"]:
                for old in ApiToken.objects.filter(user=user, revoked_at__isnull=True):
                    old.revoke()
            expires_at = timezone.now() + timedelta(days=days) if days else None
            _, token = ApiToken.issue(user, name=options["name"][:100], expires_at=expires_at)
        if created:
            self.stderr.write(f"created user {username}{' (staff)' if user.is_staff else ''}")
        self.stdout.write(token)
