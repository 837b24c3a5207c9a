"""The history filtered by media type, newest first (issue 12): an index per owner
on (media_type, created_at, id) for the visible requests, so a filtered search that
walks the owner's history (analysis/api/filters.py, plan_search) reads only rows of
that media type. Built CONCURRENTLY (a live table keeps taking writes), hence
``atomic = False``."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("analysis", "0007_webhooks"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="analysisrequest",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["owner", "media_type", "created_at", "id"],
                name="idx_requests_owner_media",
            ),
        ),
    ]
